/** The Jobs tab: a filtered, paged list and a job's details with its live log. */
import { Poll } from '@lumino/polling';
import * as React from 'react';

import { IJob, IJobsPage, ServerlessService } from './api';
import { IJobStatuses, when, money, Status, describe } from './common';

export function duration(job: IJob): string {
  if (!job.started_at) {
    return '-';
  }
  const seconds = (job.ended_at || Date.now() / 1000) - job.started_at;
  return seconds < 120
    ? `${seconds.toFixed(1)}s`
    : `${(seconds / 60).toFixed(1)}m`;
}

export function JobsTab(props: {
  service: ServerlessService;
  statuses: IJobStatuses;
  backendNames: string[];
  page: IJobsPage | null;
  filters: { status: string; backend: string; limit: number; offset: number };
  setFilters: (f: {
    status: string;
    backend: string;
    limit: number;
    offset: number;
  }) => void;
  selected: string | null;
  select: (id: string | null) => void;
  act: (what: () => Promise<unknown>) => Promise<void>;
  onError: (message: string) => void;
}): JSX.Element {
  const { page, filters, setFilters } = props;
  const started = performance.now();
  React.useLayoutEffect(() => {
    if (page) {
      (window as any).jsmlJobsRender = {
        rows: page.jobs.length,
        ms: performance.now() - started
      };
    }
  });
  return (
    <div>
      <div className="jsml-filters">
        <select
          aria-label="status"
          value={filters.status}
          onChange={e =>
            setFilters({ ...filters, status: e.target.value, offset: 0 })
          }
        >
          <option value="">all statuses</option>
          {props.statuses.all.map(s => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select
          aria-label="backend"
          value={filters.backend}
          onChange={e =>
            setFilters({ ...filters, backend: e.target.value, offset: 0 })
          }
        >
          <option value="">all backends</option>
          {props.backendNames.map(b => (
            <option key={b}>{b}</option>
          ))}
        </select>
        <select
          aria-label="page size"
          value={filters.limit}
          onChange={e =>
            setFilters({ ...filters, limit: Number(e.target.value), offset: 0 })
          }
        >
          {[50, 200, 1000].map(n => (
            <option key={n} value={n}>
              {n} per page
            </option>
          ))}
        </select>
      </div>
      {page && page.jobs.length === 0 && (
        <p className="jsml-empty">
          No jobs yet. Run a %%train cell to start one.
        </p>
      )}
      {page && page.jobs.length > 0 && (
        <table className="jsml-table jsml-jobs">
          <thead>
            <tr>
              <th>job</th>
              <th>backend</th>
              <th>status</th>
              <th>started</th>
              <th>duration</th>
              <th title="what SageMaker would bill (local: free)">cost</th>
            </tr>
          </thead>
          <tbody>
            {page.jobs.map(job => (
              <tr
                key={job.id}
                data-job={job.id}
                className={job.id === props.selected ? 'jsml-selected' : ''}
                onClick={() =>
                  props.select(job.id === props.selected ? null : job.id)
                }
              >
                <td title={job.id}>{job.id}</td>
                <td>{job.backend}</td>
                <td>
                  <Status status={job.status} />
                </td>
                <td>{when(job.started_at)}</td>
                <td>{duration(job)}</td>
                <td>{money(job.cost?.sagemaker)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page && (page.offset > 0 || page.has_more) && (
        <div className="jsml-pager">
          <button
            disabled={page.offset === 0}
            onClick={() =>
              setFilters({
                ...filters,
                offset: Math.max(0, filters.offset - filters.limit)
              })
            }
          >
            Newer
          </button>
          <span>
            {page.offset + 1}-{page.offset + page.jobs.length}
          </span>
          <button
            disabled={!page.has_more}
            onClick={() =>
              setFilters({ ...filters, offset: filters.offset + filters.limit })
            }
          >
            Older
          </button>
        </div>
      )}
      {props.selected && (
        <JobDetails
          key={props.selected}
          id={props.selected}
          statuses={props.statuses}
          service={props.service}
          act={props.act}
          onError={props.onError}
        />
      )}
    </div>
  );
}

function JobDetails(props: {
  id: string;
  statuses: IJobStatuses;
  service: ServerlessService;
  act: (what: () => Promise<unknown>) => Promise<void>;
  onError: (message: string) => void;
}): JSX.Element {
  const [job, setJob] = React.useState<IJob | null>(null);
  const [log, setLog] = React.useState('');
  // the log's opaque cursor: none for the first request, then the last reply's
  const cursor = React.useRef<string | undefined>(undefined);
  // whether a log reply has already said the job was finished
  const finished = React.useRef(false);
  const statuses = React.useRef(props.statuses);
  statuses.current = props.statuses;
  React.useEffect(() => {
    let alive = true;
    const poll = new Poll({
      factory: async () => {
        try {
          const [record, chunk] = await Promise.all([
            props.service.job(props.id),
            props.service.logs(props.id, cursor.current)
          ]);
          if (!alive) {
            return;
          }
          if (typeof chunk.cursor === 'string') {
            cursor.current = chunk.cursor;
          }
          if (chunk.text) {
            setLog(previous => previous + chunk.text);
          }
          setJob(record);
          const wasFinished = finished.current;
          finished.current = statuses.current.terminal.has(chunk.status);
          if (wasFinished && !chunk.text) {
            // asked after a reply that saw the job finished, and nothing more:
            // the log is complete
            void poll.stop();
          }
        } catch (reason) {
          props.onError(describe(reason));
          throw reason;
        }
      },
      frequency: { interval: 1000, backoff: true, max: 15 * 1000 },
      standby: 'when-hidden',
      name: `jupyter-serverless-ml:job:${props.id}`
    });
    void poll.start();
    return () => {
      alive = false;
      poll.dispose();
    };
  }, [props.id]);
  if (!job) {
    return <div className="jsml-details">loading {props.id}...</div>;
  }
  const hps = job.spec.hyperparameters || {};
  const captured = job.bundle_manifest?.captured || [];
  return (
    <div className="jsml-details" data-details={job.id}>
      <div className="jsml-details-head">
        <strong>{job.id}</strong> <Status status={job.status} />
        {props.statuses.active.has(job.status) && (
          <button
            className="jp-mod-styled jp-mod-warn jsml-stop"
            onClick={() => props.act(() => props.service.stopJob(job.id))}
          >
            Stop
          </button>
        )}
      </div>
      {job.failure_reason && (
        <pre className="jsml-failure">{job.failure_reason}</pre>
      )}
      <dl>
        <dt>hyperparameters</dt>
        <dd>{Object.keys(hps).length ? JSON.stringify(hps) : '-'}</dd>
        <dt>metrics</dt>
        <dd>
          {Object.entries(job.metrics || {})
            .map(([k, v]) => `${k}=${Number(v).toPrecision(4)}`)
            .join(' ') || '-'}
        </dd>
        <dt>instance</dt>
        <dd>{job.spec.instance_type || '-'}</dd>
        <dt>bundle</dt>
        <dd title={job.bundle_manifest?.hash}>
          {job.bundle_manifest ? job.bundle_manifest.hash.slice(0, 12) : '-'}
          {captured.length > 0 &&
            ` (captured: ${captured.map(c => c.name).join(', ')})`}
        </dd>
        <dt>model</dt>
        <dd>{job.model_version ? `${job.name}:${job.model_version}` : '-'}</dd>
      </dl>
      <div className="jsml-log-title">
        log{props.statuses.active.has(job.status) ? ' (following)' : ''}
      </div>
      <pre className="jsml-log">{log || '(empty)'}</pre>
    </div>
  );
}
