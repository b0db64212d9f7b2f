/**
 * The Serverless ML sidebar: Jobs, Endpoints, Models, Costs and Alerts, live.
 *
 * Which tabs it shows, the status names and the status filter's choices come
 * from `GET backends` (what the configured backends support), never retyped here.
 *
 * Data refreshes with a @lumino/polling Poll (backoff on errors, standby while
 * the panel or the page is hidden). Server errors are shown in the panel.
 */
import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import * as React from 'react';

import {
  APIError,
  IAlert,
  IBackends,
  ICosts,
  IEndpoint,
  IJob,
  IJobsPage,
  IModel,
  IPlatform,
  ServerlessService
} from './api';
import { Bars, History } from './charts';

type Tab =
  'jobs' | 'endpoints' | 'models' | 'tuning' | 'schedules' | 'costs' | 'alerts';

/** Each tab, in order, with the backend feature it needs (see `GET backends`). */
const TAB_FEATURE: [Tab, string][] = [
  ['jobs', 'training'],
  ['endpoints', 'serving'],
  ['models', 'registry'],
  ['tuning', 'tuning'],
  ['schedules', 'schedules'],
  ['costs', 'monitoring'],
  ['alerts', 'monitoring']
];

/** The tabs that some configured backend supports (none until `backends` answers). */
function tabsFor(backends: IBackends | null): Tab[] {
  const features = new Set(backends?.features || []);
  return TAB_FEATURE.filter(([, feature]) => features.has(feature)).map(
    ([tab]) => tab
  );
}

/** The job statuses, as sets, from `GET backends`. */
interface IJobStatuses {
  all: string[];
  active: Set<string>;
  terminal: Set<string>;
}

function jobStatuses(backends: IBackends): IJobStatuses {
  const { statuses } = backends;
  return {
    all: statuses.job,
    active: new Set(statuses.job_active),
    terminal: new Set(statuses.job_terminal)
  };
}

/** Refetch `backends` at least this often (also when the platform starts or stops). */
const BACKENDS_MAX_AGE_MS = 30 * 1000;

const when = (ts?: number | null) =>
  ts ? new Date(ts * 1000).toLocaleString() : '-';
const money = (v?: number) =>
  v === undefined ? '-' : `$${v.toFixed(v < 1 ? 4 : 2)}`;
const ms = (v: number | null | undefined) =>
  v === null || v === undefined ? '-' : v.toFixed(1);
function duration(job: IJob): string {
  if (!job.started_at) {
    return '-';
  }
  const seconds = (job.ended_at || Date.now() / 1000) - job.started_at;
  return seconds < 120
    ? `${seconds.toFixed(1)}s`
    : `${(seconds / 60).toFixed(1)}m`;
}

function Status(props: { status: string }): JSX.Element {
  return (
    <span className={`jsml-status jsml-status-${props.status.toLowerCase()}`}>
      {props.status}
    </span>
  );
}

function ErrorBar(props: { error: string | null }): JSX.Element | null {
  return props.error ? (
    <div className="jsml-error" role="alert">
      {props.error}
    </div>
  ) : null;
}

function describe(error: unknown): string {
  return error instanceof APIError
    ? `${error.status || 'network'}: ${error.message}`
    : String(error);
}

interface IState {
  backends: IBackends | null;
  platform: IPlatform | null;
  page: IJobsPage | null;
  endpoints: IEndpoint[];
  models: IModel[];
  costs: ICosts | null;
  alerts: IAlert[];
}

/** The tab to show: the chosen one while it is offered, else the first offered. */
function pickTab(chosen: Tab, tabs: Tab[]): Tab | null {
  return tabs.includes(chosen) ? chosen : tabs[0] || null;
}

/** The whole panel. `poll` refreshes what the visible tab shows. */
export function SidebarApp(props: {
  service: ServerlessService;
  isVisible: () => boolean;
}): JSX.Element {
  const { service } = props;
  const [tab, setTab] = React.useState<Tab>('jobs');
  const [state, setState] = React.useState<IState>({
    backends: null,
    platform: null,
    page: null,
    endpoints: [],
    models: [],
    costs: null,
    alerts: []
  });
  const [error, setError] = React.useState<string | null>(null);
  const [filters, setFilters] = React.useState({
    status: '',
    backend: '',
    limit: 50,
    offset: 0
  });
  const [selectedJob, setSelectedJob] = React.useState<string | null>(null);
  const [selectedEndpoint, setSelectedEndpoint] = React.useState<string | null>(
    null
  );
  const current = React.useRef({ tab, filters });
  current.current = { tab, filters };
  // what `backends` answered last, when, and whether the platform was running then
  const known = React.useRef<{
    backends: IBackends | null;
    at: number;
    running: boolean | null;
  }>({ backends: null, at: 0, running: null });

  const refresh = React.useCallback(async () => {
    const platform = await service.platform();
    const last = known.current;
    let backends = last.backends;
    if (
      !backends ||
      last.running !== platform.running ||
      Date.now() - last.at > BACKENDS_MAX_AGE_MS
    ) {
      backends = await service.backends();
      known.current = {
        backends,
        at: Date.now(),
        running: platform.running
      };
    }
    // shown even when what the tab needs fails below
    setState(previous => ({ ...previous, platform, backends }));
    const next: Partial<IState> = {};
    if (platform.running) {
      const { tab: chosen, filters: f } = current.current;
      const shown = pickTab(chosen, tabsFor(backends));
      if (shown === 'jobs') {
        next.page = await service.jobs(f);
      } else if (shown === 'endpoints') {
        next.endpoints = (await service.endpoints()).endpoints;
      } else if (shown === 'models') {
        next.models = (await service.models()).models;
      } else if (shown === 'costs') {
        next.costs = await service.costs();
      } else if (shown === 'alerts') {
        next.alerts = (await service.alerts()).alerts;
      }
    }
    setState(previous => ({ ...previous, ...next }));
    setError(null);
  }, [service]);

  const poll = React.useMemo(
    () =>
      new Poll({
        factory: async () => {
          try {
            await refresh();
          } catch (reason) {
            setError(describe(reason));
            throw reason; // the poll backs off
          }
        },
        frequency: { interval: 2000, backoff: true, max: 30 * 1000 },
        standby: () => (props.isVisible() ? 'when-hidden' : true),
        name: 'jupyter-serverless-ml:refresh'
      }),
    [refresh]
  );
  React.useEffect(() => () => poll.dispose(), [poll]);
  const { platform, backends } = state;
  const tabs = tabsFor(backends);
  const shown = pickTab(tab, tabs);
  React.useEffect(() => {
    void poll.refresh();
  }, [shown, filters]);

  const act = async (what: () => Promise<unknown>) => {
    try {
      await what();
      await poll.refresh();
    } catch (reason) {
      setError(describe(reason));
    }
  };

  const broken = (backends?.backends || []).filter(b => b.error);
  return (
    <div className="jsml-panel">
      <div className="jsml-header">
        <span className="jsml-title">Serverless ML</span>
        <span className="jsml-platform">
          {platform
            ? platform.running
              ? `local platform ${platform.url}`
              : 'platform stopped'
            : ''}
        </span>
      </div>
      <ErrorBar error={error} />
      {broken.map(b => (
        <div key={b.name} className="jsml-backend-error" data-backend={b.name}>
          backend {b.name} did not load: {b.error}
        </div>
      ))}
      {platform && !platform.running && (
        <div className="jsml-banner">
          <p>The local platform is not running.</p>
          <button
            className="jp-mod-styled jp-mod-accept jsml-start"
            onClick={() => act(() => service.startPlatform())}
          >
            Start platform
          </button>
        </div>
      )}
      {backends && tabs.length === 0 && (
        <p className="jsml-empty">
          No backend is configured that this panel can show.
        </p>
      )}
      <div className="jsml-tabs" role="tablist">
        {tabs.map(t => (
          <button
            key={t}
            role="tab"
            aria-selected={t === shown}
            className={`jsml-tab${t === shown ? ' jsml-tab-active' : ''}`}
            data-tab={t}
            onClick={() => setTab(t)}
          >
            {t[0].toUpperCase() + t.slice(1)}
          </button>
        ))}
      </div>
      <div className="jsml-body">
        {shown === 'jobs' && backends && (
          <JobsTab
            service={service}
            statuses={jobStatuses(backends)}
            backendNames={backends.backends
              .filter(b => !b.error)
              .map(b => b.name)}
            page={state.page}
            filters={filters}
            setFilters={setFilters}
            selected={selectedJob}
            select={setSelectedJob}
            act={act}
            onError={setError}
          />
        )}
        {shown === 'endpoints' && (
          <EndpointsTab
            service={service}
            endpoints={state.endpoints}
            selected={selectedEndpoint}
            select={setSelectedEndpoint}
            act={act}
            onError={setError}
          />
        )}
        {shown === 'models' && <ModelsTab models={state.models} />}
        {shown === 'tuning' && <p className="jsml-empty">No tuning jobs.</p>}
        {shown === 'schedules' && <p className="jsml-empty">No schedules.</p>}
        {shown === 'costs' && <CostsTab costs={state.costs} />}
        {shown === 'alerts' && (
          <AlertsTab alerts={state.alerts} service={service} act={act} />
        )}
      </div>
    </div>
  );
}

// -- Jobs ---------------------------------------------------------------------

function JobsTab(props: {
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

// -- Endpoints ----------------------------------------------------------------

function EndpointsTab(props: {
  service: ServerlessService;
  endpoints: IEndpoint[];
  selected: string | null;
  select: (name: string | null) => void;
  act: (what: () => Promise<unknown>) => Promise<void>;
  onError: (message: string) => void;
}): JSX.Element {
  if (props.endpoints.length === 0) {
    return (
      <p className="jsml-empty">
        No endpoints. Deploy a model with %deploy MODEL.
      </p>
    );
  }
  return (
    <div>
      <table className="jsml-table jsml-endpoints">
        <thead>
          <tr>
            <th>endpoint</th>
            <th>backend</th>
            <th>status</th>
            <th title="now/min/max">replicas</th>
            <th>traffic</th>
            <th>req/min</th>
            <th>p50/p95 ms</th>
            <th>errors</th>
            <th>cold starts</th>
          </tr>
        </thead>
        <tbody>
          {props.endpoints.map(e => (
            <tr
              key={e.name}
              data-endpoint={e.name}
              className={e.name === props.selected ? 'jsml-selected' : ''}
              onClick={() =>
                props.select(e.name === props.selected ? null : e.name)
              }
            >
              <td>{e.name}</td>
              <td>{e.backend}</td>
              <td>
                <Status status={e.status} />
              </td>
              <td className="jsml-replicas">
                {e.replicas}/{e.min_replicas}/{e.max_replicas}
              </td>
              <td>
                {Object.entries(e.traffic)
                  .map(([k, v]) => `${k} ${v}%`)
                  .join(', ')}
              </td>
              <td>{e.stats.requests_last_minute}</td>
              <td>
                {ms(e.stats.p50_ms)}/{ms(e.stats.p95_ms)}
              </td>
              <td>{(e.stats.error_rate * 100).toFixed(1)}%</td>
              <td>{e.cold_starts}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.selected && (
        <EndpointDetails
          key={props.selected}
          name={props.selected}
          service={props.service}
          act={props.act}
          onError={props.onError}
          onGone={() => props.select(null)}
        />
      )}
    </div>
  );
}

function EndpointDetails(props: {
  name: string;
  service: ServerlessService;
  act: (what: () => Promise<unknown>) => Promise<void>;
  onError: (message: string) => void;
  onGone: () => void;
}): JSX.Element {
  const [endpoint, setEndpoint] = React.useState<IEndpoint | null>(null);
  React.useEffect(() => {
    const poll = new Poll({
      factory: async () => {
        try {
          setEndpoint(await props.service.endpoint(props.name));
        } catch (reason) {
          if (reason instanceof APIError && reason.status === 404) {
            props.onGone();
            return;
          }
          props.onError(describe(reason));
          throw reason;
        }
      },
      frequency: { interval: 3000, backoff: true, max: 30 * 1000 },
      standby: 'when-hidden',
      name: `jupyter-serverless-ml:endpoint:${props.name}`
    });
    void poll.start();
    return () => poll.dispose();
  }, [props.name]);
  if (!endpoint) {
    return <div className="jsml-details">loading {props.name}...</div>;
  }
  const history = endpoint.history || [];
  const replicas = history
    .filter(
      e => e.kind === 'scale' && e.value !== null && e.value !== undefined
    )
    .map(e => ({ t: e.ts, v: Number(e.value) }));
  const latency = history
    .filter(
      e => e.kind === 'stats' && e.value !== null && e.value !== undefined
    )
    .map(e => ({ t: e.ts, v: Number(e.value) }));
  const undeploy = async () => {
    const answer = await showDialog({
      title: `Undeploy ${endpoint.name}?`,
      body: 'In-flight requests finish first; then its replicas stop and the endpoint is deleted.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Undeploy' })]
    });
    if (answer.button.accept) {
      await props.act(() => props.service.undeploy(endpoint.name));
      props.onGone();
    }
  };
  return (
    <div className="jsml-details" data-details={endpoint.name}>
      <div className="jsml-details-head">
        <strong>{endpoint.name}</strong> <Status status={endpoint.status} />
        <button
          className="jp-mod-styled jp-mod-warn jsml-undeploy"
          onClick={undeploy}
        >
          Undeploy
        </button>
      </div>
      <div className="jsml-copy">
        <code className="jsml-url">{endpoint.invocation_url}</code>
        <button
          onClick={() => Clipboard.copyToSystem(endpoint.invocation_url || '')}
        >
          Copy URL
        </button>
      </div>
      <div className="jsml-copy">
        <code>{endpoint.curl}</code>
        <button onClick={() => Clipboard.copyToSystem(endpoint.curl || '')}>
          Copy curl
        </button>
      </div>
      <History replicas={replicas} latency={latency} now={Date.now() / 1000} />
      <ul className="jsml-variants">
        {endpoint.variants.map(v => (
          <li key={v.name}>
            {v.name}: {v.model}, {v.traffic}% of traffic, {v.replicas} ready
            {v.starting ? `, ${v.starting} starting` : ''} (min {v.min_replicas}
            , max {v.max_replicas})
          </li>
        ))}
      </ul>
      <div>
        cold starts:{' '}
        {(endpoint.cold_start_ms || [])
          .slice(-8)
          .map(c => `${c.toFixed(0)} ms`)
          .join(', ') || 'none'}
      </div>
    </div>
  );
}

// -- Models, Costs, Alerts ----------------------------------------------------

function ModelsTab(props: { models: IModel[] }): JSX.Element {
  if (props.models.length === 0) {
    return (
      <p className="jsml-empty">
        No models yet. A %%train cell that sets `model` registers one.
      </p>
    );
  }
  return (
    <table className="jsml-table jsml-models">
      <thead>
        <tr>
          <th>model</th>
          <th>version</th>
          <th>flavor</th>
          <th>stage</th>
          <th>metrics</th>
          <th>served by</th>
        </tr>
      </thead>
      <tbody>
        {props.models.map(m => (
          <tr
            key={`${m.name}:${m.version}`}
            data-model={`${m.name}:${m.version}`}
          >
            <td title={m.metadata?.class}>{m.name}</td>
            <td>{m.version}</td>
            <td>{m.flavor}</td>
            <td>{m.stage}</td>
            <td>
              {Object.entries(m.metrics || {})
                .map(([k, v]) => `${k}=${Number(v).toPrecision(3)}`)
                .join(' ') || '-'}
            </td>
            <td>
              {m.endpoints
                .map(e => `${e.endpoint}/${e.variant} (${e.traffic}%)`)
                .join(', ') || '-'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function CostsTab(props: { costs: ICosts | null }): JSX.Element {
  const { costs } = props;
  if (!costs) {
    return <p className="jsml-empty">loading costs...</p>;
  }
  if (costs.by_resource.length === 0) {
    return (
      <p className="jsml-empty">
        Nothing has run yet, so nothing has cost anything.
      </p>
    );
  }
  return (
    <div className="jsml-costs">
      <div className="jsml-totals">
        <div>
          local: <strong>{money(costs.total.local)}</strong>
        </div>
        <div>
          SageMaker would bill: <strong>{money(costs.total.sagemaker)}</strong>
        </div>
        <div>
          Vertex AI would bill: <strong>{money(costs.total.vertex)}</strong>
        </div>
        <div>{costs.total.instance_hours.toFixed(3)} instance-hours</div>
      </div>
      <h4>By day (SageMaker prices)</h4>
      <Bars
        title="cost by day"
        items={costs.by_day.map(d => ({
          label: d.day.slice(5),
          value: d.sagemaker
        }))}
        format={money}
      />
      <h4>By resource type (SageMaker prices)</h4>
      <Bars
        title="cost by resource type"
        items={costs.by_resource.map(r => ({
          label: r.kind,
          value: r.sagemaker
        }))}
        format={money}
      />
      <p className="jsml-note">{costs.note}</p>
    </div>
  );
}

function AlertsTab(props: {
  alerts: IAlert[];
  service: ServerlessService;
  act: (what: () => Promise<unknown>) => Promise<void>;
}): JSX.Element {
  if (props.alerts.length === 0) {
    return <p className="jsml-empty">No drift or monitor alerts.</p>;
  }
  return (
    <table className="jsml-table jsml-alerts">
      <thead>
        <tr>
          <th>endpoint</th>
          <th>feature</th>
          <th>test</th>
          <th>value / threshold</th>
          <th>when</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {props.alerts.map(a => (
          <tr
            key={a.id}
            data-alert={a.id}
            className={a.acknowledged_at ? 'jsml-acked' : ''}
          >
            <td>{a.endpoint}</td>
            <td>{a.feature}</td>
            <td>{a.test}</td>
            <td>
              {a.value ?? '-'} / {a.threshold ?? '-'}
            </td>
            <td>{when(a.created_at)}</td>
            <td>
              {a.acknowledged_at ? (
                'acknowledged'
              ) : (
                <button
                  onClick={() =>
                    props.act(() => props.service.acknowledge(a.id))
                  }
                >
                  Acknowledge
                </button>
              )}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The Lumino widget that hosts the React panel in the left sidebar. */
export class ServerlessPanel extends ReactWidget {
  constructor(private readonly service: ServerlessService) {
    super();
    this.id = 'jupyter-serverless-ml-panel';
    this.addClass('jsml-root');
  }

  render(): JSX.Element {
    return (
      <SidebarApp service={this.service} isVisible={() => this.isVisible} />
    );
  }
}
