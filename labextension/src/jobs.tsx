/**
 * The Jobs tab. Sidebar: a compact list (name, status badge, duration, age)
 * whose rows expand in place to the job's details and live log. Dashboard: a
 * full table over up to 1,000 jobs (sorted, filtered, paged).
 */
import {
  HTMLSelect,
  launchIcon,
  listIcon,
  stopIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { IJob, IJobsPage } from './api';
import {
  ago,
  arrowKeys,
  duration,
  jobStatuses,
  money,
  pairs,
  seconds,
  Status,
  when
} from './common';
import { useJobFollow } from './follow';
import { usePolled } from './hooks';
import { ITab, IViewProps } from './registry';
import { DataTable, IColumn } from './table';

/** `data-*` of a job's row, read by the context menu's commands. */
export const jobRowProps = (job: IJob): Record<string, string> => ({
  'data-job': job.id,
  'data-status': job.status,
  className: 'jsml-job-row'
});

interface IFilters {
  status: string;
  backend: string;
  limit: number;
}

/** The status and backend choices, from `GET backends` (never retyped here). */
function Choices(props: {
  view: IViewProps;
  filters: IFilters;
  set: (f: IFilters) => void;
}): JSX.Element {
  const { view, filters, set } = props;
  return (
    <>
      <HTMLSelect
        aria-label="status"
        value={filters.status}
        onChange={e => set({ ...filters, status: e.currentTarget.value })}
        options={[
          { label: 'all statuses', value: '' },
          ...view.backends.statuses.job.map(s => ({ label: s, value: s }))
        ]}
      />
      <HTMLSelect
        aria-label="backend"
        value={filters.backend}
        onChange={e => set({ ...filters, backend: e.currentTarget.value })}
        options={[
          { label: 'all backends', value: '' },
          ...view.backends.backends
            .filter(b => !b.error)
            .map(b => ({ label: b.name, value: b.name }))
        ]}
      />
    </>
  );
}

/** When the default backend setting changes, the list follows it. */
function useDefaultBackend(
  view: IViewProps,
  filters: IFilters,
  set: (f: IFilters) => void
): void {
  const chosen = view.model.settings.defaultBackend;
  const first = React.useRef(true);
  React.useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    set({ ...filters, backend: chosen });
  }, [chosen]);
}

/**
 * Open or close the job whose row header the event reached (one handler on the
 * list rather than two per row: 1,000 rows render faster).
 */
function toggle(
  event: React.SyntheticEvent,
  setOpen: React.Dispatch<React.SetStateAction<string | null>>
): void {
  const header = (event.target as HTMLElement).closest('.jsml-row');
  const id = (header?.parentElement as HTMLElement | null)?.dataset.job;
  if (id) {
    event.preventDefault();
    setOpen(open => (open === id ? null : id));
  }
}

export function JobsSidebar(view: IViewProps): JSX.Element {
  const { model } = view;
  const [filters, setFilters] = React.useState<IFilters>({
    status: '',
    backend: model.settings.defaultBackend,
    limit: 50
  });
  const [open, setOpen] = React.useState<string | null>(null);
  useDefaultBackend(view, filters, setFilters);
  const { data: page, arrivedAt } = usePolled<IJobsPage>(
    model,
    () => model.service.jobs({ ...filters, offset: 0 }),
    [filters.status, filters.backend, filters.limit],
    view.visible,
    view.onError
  );
  React.useLayoutEffect(() => {
    if (page) {
      (window as any).jsmlJobsRender = {
        rows: page.jobs.length,
        ms: performance.now() - arrivedAt
      };
    }
  }, [page]);
  const statuses = jobStatuses(view.backends);
  return (
    <div>
      <div className="jsml-filters">
        <Choices view={view} filters={filters} set={setFilters} />
      </div>
      {page && page.jobs.length === 0 && (
        <p className="jsml-empty">
          No jobs yet. Run a %%train cell to start one.
        </p>
      )}
      <ul
        className="jsml-list"
        aria-label="jobs"
        onClick={event => toggle(event, setOpen)}
        onKeyDown={event => {
          if (event.key === 'Enter' || event.key === ' ') {
            toggle(event, setOpen);
          } else {
            arrowKeys(event);
          }
        }}
      >
        {page?.jobs.map(job => (
          <li key={job.id} {...jobRowProps(job)}>
            <div
              className="jsml-row"
              data-row=""
              role="button"
              tabIndex={0}
              aria-expanded={open === job.id}
            >
              <span className="jsml-row-name" title={job.id}>
                {job.id}
              </span>
              <Status status={job.status} />
              <span className="jsml-row-meta">
                {job.backend} · {duration(job)} · {ago(job.created_at)}
              </span>
            </div>
            {open === job.id && (
              <JobDetails
                view={view}
                id={job.id}
                terminal={statuses.terminal}
                active={statuses.active}
              />
            )}
          </li>
        ))}
      </ul>
      <div className="jsml-list-foot">
        <span>newest</span>
        <HTMLSelect
          aria-label="page size"
          value={filters.limit}
          onChange={e =>
            setFilters({ ...filters, limit: Number(e.currentTarget.value) })
          }
          options={[50, 200, 1000].map(n => ({ label: `${n}`, value: n }))}
        />
        {page?.has_more && (
          <button
            className="jp-Button jp-mod-minimal jsml-more"
            onClick={() => view.open({ kind: 'section', id: 'jobs' })}
          >
            all in the dashboard
          </button>
        )}
      </div>
    </div>
  );
}

/** A job's details in the sidebar, in place under its row. */
function JobDetails(props: {
  view: IViewProps;
  id: string;
  terminal: Set<string>;
  active: Set<string>;
}): JSX.Element {
  const { view } = props;
  const { job, log } = useJobFollow(
    view.model.service,
    props.id,
    props.terminal,
    view.onError
  );
  if (!job) {
    return <div className="jsml-details">loading {props.id}...</div>;
  }
  const captured = job.bundle_manifest?.captured || [];
  return (
    <div className="jsml-details" data-details={job.id}>
      <div className="jsml-details-head">
        {props.active.has(job.status) && (
          <ToolbarButtonComponent
            className="jsml-stop"
            icon={stopIcon}
            label="Stop"
            tooltip={`Stop ${job.id}`}
            onClick={() => view.act(() => view.model.service.stopJob(job.id))}
          />
        )}
        <ToolbarButtonComponent
          className="jsml-open"
          icon={launchIcon}
          label="Open"
          tooltip="Open the job's page in the dashboard"
          onClick={() => view.open({ kind: 'job', id: job.id })}
        />
      </div>
      {job.failure_reason && (
        <pre className="jsml-failure">{job.failure_reason}</pre>
      )}
      <dl>
        <dt>hyperparameters</dt>
        <dd>{pairs(job.spec.hyperparameters)}</dd>
        <dt>metrics</dt>
        <dd>{pairs(job.metrics)}</dd>
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
        log{props.active.has(job.status) ? ' (following)' : ''}
      </div>
      <pre className="jsml-log" tabIndex={0} aria-label={`log of ${job.id}`}>
        {log || '(empty)'}
      </pre>
    </div>
  );
}

const JOB_COLUMNS: IColumn<IJob>[] = [
  { id: 'id', label: 'job', render: j => j.id, value: j => j.id },
  {
    id: 'backend',
    label: 'backend',
    render: j => j.backend,
    value: j => j.backend
  },
  {
    id: 'status',
    label: 'status',
    render: j => <Status status={j.status} />,
    value: j => j.status
  },
  {
    id: 'created',
    label: 'created',
    render: j => when(j.created_at),
    value: j => j.created_at
  },
  { id: 'duration', label: 'duration', render: duration, value: seconds },
  {
    id: 'instance',
    label: 'instance',
    render: j => j.spec.instance_type || '-',
    value: j => j.spec.instance_type || ''
  },
  {
    id: 'cost',
    label: 'cost',
    title: 'what SageMaker would bill (local: free)',
    render: j => money(j.cost?.sagemaker),
    value: j => j.cost?.sagemaker ?? -1
  }
];

export function JobsDashboard(view: IViewProps): JSX.Element {
  const { model } = view;
  const [filters, setFilters] = React.useState<IFilters>({
    status: '',
    backend: model.settings.defaultBackend,
    limit: 1000
  });
  useDefaultBackend(view, filters, setFilters);
  const { data: page, arrivedAt } = usePolled<IJobsPage>(
    model,
    () => model.service.jobs({ ...filters, offset: 0 }),
    [filters.status, filters.backend],
    view.visible,
    view.onError
  );
  const reported = React.useRef(0);
  return (
    <DataTable
      label="jobs"
      rows={page?.jobs || []}
      columns={JOB_COLUMNS}
      rowKey={j => j.id}
      rowProps={jobRowProps}
      onOpen={j => view.open({ kind: 'job', id: j.id })}
      empty={page ? 'No jobs match.' : 'loading jobs...'}
      initialSort={{ id: 'created', direction: -1 }}
      tools={<Choices view={view} filters={filters} set={setFilters} />}
      onCommit={rows => {
        // once per arrival: from the page arriving to React committing the table
        if (page && reported.current !== arrivedAt) {
          reported.current = arrivedAt;
          const last = (window as any).jsmlDashboardRender;
          (window as any).jsmlDashboardRender = {
            rows,
            total: page.jobs.length,
            ms: performance.now() - arrivedAt,
            n: (last?.n || 0) + 1
          };
        }
      }}
    />
  );
}

/** The tab (index.ts adds it to the registry). */
export const jobsTab: ITab = {
  id: 'jobs',
  label: 'Jobs',
  feature: 'training',
  rank: 10,
  icon: listIcon,
  sidebar: JobsSidebar,
  dashboard: JobsDashboard
};
