/**
 * The Serverless ML sidebar: Jobs, Endpoints, Models, Costs and Alerts, live.
 *
 * Which tabs it shows, the status names and the status filter's choices come
 * from `GET backends` (what the configured backends support), never retyped here.
 *
 * Data refreshes with a @lumino/polling Poll (backoff on errors, standby while
 * the panel or the page is hidden). Server errors are shown in the panel.
 */
import { ReactWidget } from '@jupyterlab/ui-components';
import { Poll } from '@lumino/polling';
import * as React from 'react';

import {
  IAlert,
  IBackends,
  ICosts,
  IEndpoint,
  IJobsPage,
  IModel,
  IPlatform,
  ServerlessService
} from './api';
import { jobStatuses, ErrorBar, describe } from './common';
import { JobsTab } from './jobs';
import { EndpointsTab } from './endpoints';
import { ModelsTab } from './models';
import { CostsTab, AlertsTab } from './monitoring';
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
/** Refetch `backends` at least this often (also when the platform starts or stops). */
const BACKENDS_MAX_AGE_MS = 30 * 1000;

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
