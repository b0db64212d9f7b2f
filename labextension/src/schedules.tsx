/**
 * The Schedules tab (feature `schedules`): scheduled notebooks with their last
 * run's status and next run; one opens to Run now and its recent runs, each
 * linking to its executed notebook in Lab. Dashboard: the same as tables.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import {
  LabIcon,
  runIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { ISchedule, IScheduleRun } from './api';
import { ago, span, Status, when } from './common';
import { usePolled } from './hooks';
import { ITab, IViewProps } from './registry';
import { ExpandingList } from './rows';
import { DataTable, IColumn } from './table';

export const scheduleIcon = new LabIcon({
  name: 'jupyter-serverless-ml:schedule',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" d="M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm0 18a8 8 0 1 1 0-16 8 8 0 0 1 0 16zm.5-13H11v6l5.2 3.1.8-1.2-4.5-2.7V7z"/></svg>`
});

/** When a schedule fires: its cron, or its interval. */
const cadence = (s: ISchedule) =>
  s.cron
    ? `${s.cron} ${s.timezone}`
    : s.interval
      ? `every ${span(s.interval)}`
      : '-';
const next = (s: ISchedule) =>
  !s.enabled
    ? 'paused'
    : s.next_run_at
      ? `next in ${span(s.next_run_at - Date.now() / 1000)}`
      : '-';

/** The executed notebook's link in this Lab (the server gives a path under /lab/tree). */
const settings = ServerConnection.makeSettings();
const href = (link: string) => URLExt.join(settings.baseUrl, link);

function useSchedules(view: IViewProps) {
  return usePolled(
    view.model,
    () => view.model.service.schedules(),
    [],
    view.visible,
    view.onError
  ).data;
}

const RUN_COLUMNS: IColumn<IScheduleRun>[] = [
  { id: 'id', label: 'run', render: r => r.id, value: r => r.id },
  {
    id: 'status',
    label: 'status',
    render: r => <Status status={r.status} />,
    value: r => r.status
  },
  {
    id: 'trigger',
    label: 'trigger',
    render: r => r.trigger,
    value: r => r.trigger
  },
  {
    id: 'created',
    label: 'when',
    render: r => when(r.created_at),
    value: r => r.created_at
  },
  {
    id: 'duration',
    label: 'duration',
    render: r => (r.duration === null ? '-' : span(r.duration)),
    value: r => r.duration ?? -1
  },
  {
    id: 'notebook',
    label: 'notebook',
    render: r =>
      r.link ? (
        <a href={href(r.link)} target="_blank" rel="noreferrer">
          open
        </a>
      ) : (
        r.failure_reason || '-'
      ),
    value: r => r.link || ''
  }
];

function ScheduleRuns(props: {
  view: IViewProps;
  schedule: ISchedule;
  compact: boolean;
}): JSX.Element {
  const { view, schedule } = props;
  const data = usePolled(
    view.model,
    () => view.model.service.scheduleRuns(schedule.name),
    [schedule.name],
    view.visible,
    view.onError
  ).data;
  const runs = data?.runs || [];
  return (
    <div data-schedule-runs={schedule.name}>
      <ToolbarButtonComponent
        className="jsml-run-now"
        icon={runIcon}
        label="Run now"
        tooltip={`Run ${schedule.notebook} now`}
        onClick={() =>
          view.act(() => view.model.service.runSchedule(schedule.name))
        }
      />
      {props.compact ? (
        <ul className="jsml-list" aria-label={`runs of ${schedule.name}`}>
          {runs.slice(0, 5).map(r => (
            <li key={r.id} className="jsml-row" data-run={r.id}>
              <span className="jsml-row-name">
                {r.link ? (
                  <a href={href(r.link)} target="_blank" rel="noreferrer">
                    {ago(r.created_at)}
                  </a>
                ) : (
                  ago(r.created_at)
                )}
              </span>
              <Status status={r.status} />
            </li>
          ))}
          {data && runs.length === 0 && (
            <li className="jsml-empty">No runs yet.</li>
          )}
        </ul>
      ) : (
        <DataTable
          label={`runs of ${schedule.name}`}
          rows={runs}
          columns={RUN_COLUMNS}
          rowKey={r => r.id}
          empty={data ? 'No runs yet.' : 'loading runs...'}
        />
      )}
    </div>
  );
}

export function SchedulesSidebar(view: IViewProps): JSX.Element {
  const data = useSchedules(view);
  if (data && data.schedules.length === 0) {
    return (
      <p className="jsml-empty">
        No schedules. Schedule a notebook with %schedule.
      </p>
    );
  }
  return (
    <ExpandingList
      label="schedules"
      items={data?.schedules || []}
      itemKey={s => `${s.backend}/${s.name}`}
      name={s => s.name}
      status={s => s.last_status}
      rowProps={s => ({ 'data-schedule': s.name })}
      meta={s => `${cadence(s)} · ${next(s)}`}
      details={s => <ScheduleRuns view={view} schedule={s} compact={true} />}
    />
  );
}

const SCHEDULE_COLUMNS: IColumn<ISchedule>[] = [
  { id: 'name', label: 'schedule', render: s => s.name, value: s => s.name },
  {
    id: 'notebook',
    label: 'notebook',
    render: s => s.notebook,
    value: s => s.notebook
  },
  { id: 'cadence', label: 'when', render: cadence, value: cadence },
  {
    id: 'next',
    label: 'next run',
    render: s => when(s.next_run_at),
    value: s => s.next_run_at || 0
  },
  {
    id: 'last',
    label: 'last run',
    render: s => (s.last_status ? <Status status={s.last_status} /> : '-'),
    value: s => s.last_status || ''
  },
  {
    id: 'backend',
    label: 'backend',
    render: s => s.backend,
    value: s => s.backend
  }
];

export function SchedulesDashboard(view: IViewProps): JSX.Element {
  const data = useSchedules(view);
  const [chosen, setChosen] = React.useState<string | null>(null);
  const schedule = data?.schedules.find(s => s.name === chosen);
  return (
    <>
      <DataTable
        label="schedules"
        rows={data?.schedules || []}
        columns={SCHEDULE_COLUMNS}
        rowKey={s => `${s.backend}/${s.name}`}
        rowProps={s => ({ 'data-schedule': s.name })}
        onOpen={s => setChosen(s.name)}
        empty={
          data
            ? 'No schedules. Schedule a notebook with %schedule.'
            : 'loading schedules...'
        }
      />
      {schedule && (
        <section className="jsml-page">
          <h3>Runs of {schedule.name}</h3>
          <ScheduleRuns
            key={schedule.name}
            view={view}
            schedule={schedule}
            compact={false}
          />
        </section>
      )}
    </>
  );
}

/** The tab (index.ts adds it to the registry). */
export const schedulesTab: ITab = {
  id: 'schedules',
  label: 'Schedules',
  feature: 'schedules',
  rank: 50,
  icon: scheduleIcon,
  sidebar: SchedulesSidebar,
  dashboard: SchedulesDashboard
};
