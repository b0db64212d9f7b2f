/**
 * The dashboard's pages of one job (live log, metrics chart from `log_metric`
 * steps, hyperparameters) and of one endpoint (latency and replicas over time,
 * traffic split, variants, a multi-model endpoint's models, memory, invocation).
 */
import {
  stopIcon,
  deleteIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { APIError, IEndpoint, IMetric } from './api';
import { ISeries, LineChart } from './charts';
import { duration, jobStatuses, money, ms, Status, when } from './common';
import { confirmUndeploy, Invocation, TrafficSplit } from './endpoints';
import { EndpointMemory, ModelSet } from './endpointscale';
import { useJobFollow } from './follow';
import { usePolled } from './hooks';
import { IViewProps } from './registry';

/** One series per metric name: x is the step where logged, else the order logged. */
export function metricSeries(metrics: IMetric[]): ISeries[] {
  const byName = new Map<string, [number, number][]>();
  for (const m of metrics) {
    const points = byName.get(m.name) || [];
    points.push([m.step ?? points.length, m.value]);
    byName.set(m.name, points);
  }
  return Array.from(byName, ([label, points]) => ({ label, points }));
}

function KeyValues(props: {
  label: string;
  values: Record<string, unknown>;
}): JSX.Element {
  const entries = Object.entries(props.values);
  return (
    <table className="jp-sortable-table jsml-kv" aria-label={props.label}>
      <tbody>
        {entries.length === 0 && (
          <tr>
            <td>-</td>
          </tr>
        )}
        {entries.map(([k, v]) => (
          <tr key={k} className="jp-sortable-table-tr">
            <th scope="row">{k}</th>
            <td>{typeof v === 'object' ? JSON.stringify(v) : String(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function JobPage(props: { view: IViewProps; id: string }): JSX.Element {
  const { view, id } = props;
  const statuses = jobStatuses(view.backends);
  const { job, log } = useJobFollow(
    view.model.service,
    id,
    statuses.terminal,
    view.onError
  );
  const running = !!job && statuses.active.has(job.status);
  const metrics = usePolled(
    view.model,
    () => view.model.service.metrics(id),
    [id, job?.status],
    view.visible,
    view.onError
  ).data;
  const series = React.useMemo(
    () => metricSeries(metrics?.metrics || []),
    [metrics]
  );
  if (!job) {
    return <p className="jsml-empty">loading {id}...</p>;
  }
  return (
    <div className="jsml-page" data-job-page={job.id}>
      <div className="jsml-page-head">
        <h2>{job.id}</h2>
        <Status status={job.status} />
        {running && (
          <ToolbarButtonComponent
            className="jsml-stop"
            icon={stopIcon}
            label="Stop"
            tooltip={`Stop ${job.id}`}
            onClick={() => view.act(() => view.model.service.stopJob(job.id))}
          />
        )}
      </div>
      <p className="jsml-row-meta">
        {job.backend} · {job.spec.instance_type || '-'} · started{' '}
        {when(job.started_at)} · ran {duration(job)} · SageMaker would bill{' '}
        {money(job.cost?.sagemaker)}
        {job.model_version ? ` · model ${job.name}:${job.model_version}` : ''}
      </p>
      {job.failure_reason && (
        <pre className="jsml-failure">{job.failure_reason}</pre>
      )}
      <div className="jsml-page-grid">
        <section>
          <h3>Metrics</h3>
          <LineChart title="metrics by step" series={series} time={false} />
        </section>
        <section>
          <h3>Hyperparameters</h3>
          <KeyValues
            label="hyperparameters"
            values={job.spec.hyperparameters || {}}
          />
        </section>
      </div>
      <h3>Log{running ? ' (following)' : ''}</h3>
      <pre className="jsml-log jsml-log-page" tabIndex={0} aria-label="log">
        {log || '(empty)'}
      </pre>
    </div>
  );
}

/** Replicas (from scale events) and p50 latency (from stats events) over time. */
export function history(endpoint: IEndpoint): {
  replicas: ISeries[];
  latency: ISeries[];
  range: [number, number];
} {
  const events = endpoint.history || [];
  const pick = (kind: string) =>
    events
      .filter(e => e.kind === kind && e.value !== null && e.value !== undefined)
      .map(e => [e.ts, Number(e.value)] as [number, number]);
  const now = Date.now() / 1000;
  const replicas = pick('scale');
  if (replicas.length) {
    // the count holds until now
    replicas.push([now, replicas[replicas.length - 1][1]]);
  }
  const latency = pick('stats');
  // both charts over the same window: the last hour, or since the first event
  const first = Math.min(now - 300, ...events.map(e => e.ts));
  return {
    replicas: [{ label: 'replicas', points: replicas, stepped: true }],
    latency: [{ label: 'p50 ms', points: latency }],
    range: [Math.max(first, now - 3600), now]
  };
}

export function EndpointPage(props: {
  view: IViewProps;
  name: string;
}): JSX.Element {
  const { view, name } = props;
  const [gone, setGone] = React.useState(false);
  const endpoint = usePolled(
    view.model,
    async () => {
      try {
        return await view.model.service.endpoint(name);
      } catch (reason) {
        if (reason instanceof APIError && reason.status === 404) {
          setGone(true);
          return null;
        }
        throw reason;
      }
    },
    [name],
    view.visible && !gone,
    view.onError
  ).data;
  const charts = React.useMemo(
    () => (endpoint ? history(endpoint) : null),
    [endpoint]
  );
  if (gone) {
    return <p className="jsml-empty">Endpoint {name} no longer exists.</p>;
  }
  if (!endpoint || !charts) {
    return <p className="jsml-empty">loading {name}...</p>;
  }
  return (
    <div className="jsml-page" data-endpoint-page={endpoint.name}>
      <div className="jsml-page-head">
        <h2>{endpoint.name}</h2>
        <Status status={endpoint.status} />
        <ToolbarButtonComponent
          className="jsml-undeploy"
          icon={deleteIcon}
          label="Undeploy"
          tooltip={`Undeploy ${endpoint.name}`}
          onClick={() =>
            view.act(() => confirmUndeploy(view.model.service, endpoint.name))
          }
        />
      </div>
      <p className="jsml-row-meta">
        {endpoint.backend} · replicas {endpoint.replicas} (min{' '}
        {endpoint.min_replicas}, max {endpoint.max_replicas}) ·{' '}
        {endpoint.stats.requests_last_minute} req/min · p50{' '}
        {ms(endpoint.stats.p50_ms)} ms · p95 {ms(endpoint.stats.p95_ms)} ms ·
        errors {(endpoint.stats.error_rate * 100).toFixed(1)}% · cold starts{' '}
        {endpoint.cold_starts}
      </p>
      <Invocation endpoint={endpoint} />
      <div className="jsml-page-grid">
        <section>
          <h3>Latency, last hour</h3>
          <LineChart
            title="p50 latency over time"
            series={charts.latency}
            xRange={charts.range}
          />
        </section>
        <section>
          <h3>Replicas, last hour</h3>
          <LineChart
            title="replicas over time"
            series={charts.replicas}
            xRange={charts.range}
          />
        </section>
      </div>
      <h3>Traffic split</h3>
      <TrafficSplit endpoint={endpoint} />
      <table className="jp-sortable-table" aria-label="variants">
        <thead>
          <tr className="jp-sortable-table-tr">
            <th>variant</th>
            <th>model</th>
            <th>traffic</th>
            <th>ready</th>
            <th>starting</th>
            <th>min / max</th>
          </tr>
        </thead>
        <tbody>
          {endpoint.variants.map(v => (
            <tr key={v.name} className="jp-sortable-table-tr">
              <td>{v.name}</td>
              <td>{v.model}</td>
              <td>{v.traffic}%</td>
              <td>{v.replicas}</td>
              <td>{v.starting}</td>
              <td>
                {v.min_replicas} / {v.max_replicas}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {endpoint.multi_model && (
        <>
          <h3>Models</h3>
          <ModelSet endpoint={endpoint} wide />
        </>
      )}
      <h3>Memory</h3>
      <EndpointMemory endpoint={endpoint} />
      <p className="jsml-row-meta">
        cold starts:{' '}
        {(endpoint.cold_start_ms || [])
          .slice(-8)
          .map(c => `${c.toFixed(0)} ms`)
          .join(', ') || 'none'}
      </p>
    </div>
  );
}
