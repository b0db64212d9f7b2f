/**
 * The Tuning tab (feature `tuning`): studies with their status, best value and
 * trials done; a study opens to its best parameters and its trials (status,
 * objective, best so far). Dashboard: the studies'
 * table and, for the one chosen, the objective and best-so-far by trial and
 * its trials.
 */
import { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IStudy, ITrial } from './api';
import { ISeries, LineChart } from './charts';
import { ago, pairs, span, Status, when } from './common';
import { usePolled } from './hooks';
import { ITab, IViewProps } from './registry';
import { ExpandingList } from './rows';
import { DataTable, IColumn } from './table';

export const tuningIcon = new LabIcon({
  name: 'jupyter-serverless-ml:tuning',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" d="M3 17v2h6v-2H3zM3 5v2h10V5H3zm10 16v-2h8v-2h-8v-2h-2v6h2zM7 9v2H3v2h4v2h2V9H7zm14 4v-2H11v2h10zm-6-4h2V7h4V5h-4V3h-2v6z"/></svg>`
});

const done = (s: IStudy) =>
  Object.entries(s.counts || {})
    .filter(([status]) => status !== 'Running')
    .reduce((n, [, count]) => n + count, 0);
const best = (s: IStudy) =>
  s.best
    ? `${s.objective} ${Number(s.best.value).toPrecision(4)}`
    : 'no best yet';

function useStudies(view: IViewProps) {
  return usePolled(
    view.model,
    () => view.model.service.studies(),
    [],
    view.visible,
    view.onError
  ).data;
}

const num = (v: number | null | undefined) =>
  v === null || v === undefined ? '-' : Number(v).toPrecision(4);

/** A study's trials, compact (fetched while its row is open): number, status,
 * objective and best so far. */
function SidebarTrials(props: { view: IViewProps; name: string }) {
  const { view, name } = props;
  const study = usePolled(
    view.model,
    () => view.model.service.study(name),
    [name],
    view.visible,
    view.onError
  ).data;
  if (!study) {
    return <p className="jsml-empty">loading trials...</p>;
  }
  return (
    <table className="jsml-trials" aria-label={`trials of ${name}`}>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">status</th>
          <th scope="col" title={`objective: ${study.objective}`}>
            {study.objective}
          </th>
          <th scope="col">best so far</th>
        </tr>
      </thead>
      <tbody>
        {(study.trials || []).map(t => (
          <tr key={t.number} data-trial={t.number} title={pairs(t.params)}>
            <td>{t.number}</td>
            <td>
              <Status status={t.status} />
            </td>
            <td className="jsml-num">{num(t.value)}</td>
            <td className="jsml-num">{num(t.best_so_far)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function TuningSidebar(view: IViewProps): JSX.Element {
  const data = useStudies(view);
  if (data && data.studies.length === 0) {
    return (
      <p className="jsml-empty">No tuning studies. Start one with %%tune.</p>
    );
  }
  return (
    <ExpandingList
      label="tuning studies"
      items={data?.studies || []}
      itemKey={s => s.name}
      name={s => s.name}
      status={s => s.status}
      rowProps={s => ({ 'data-study': s.name })}
      meta={s =>
        `${best(s)} · ${done(s)}/${s.trials_budget} trials · ${ago(s.created_at)}`
      }
      details={s => (
        <>
          <dl>
            <dt>best params</dt>
            <dd>{s.best ? pairs(s.best.params) : '-'}</dd>
            <dt>strategy</dt>
            <dd>
              {s.strategy}, {s.direction} {s.objective}, {s.parallel} at a time
            </dd>
            <dt>trials</dt>
            <dd>{pairs(s.counts)}</dd>
            <dt>model</dt>
            <dd>
              {s.model_version ? `${s.model_name}:${s.model_version}` : '-'}
            </dd>
          </dl>
          {s.failure_reason && (
            <pre className="jsml-failure">{s.failure_reason}</pre>
          )}
          <SidebarTrials view={view} name={s.name} />
        </>
      )}
    />
  );
}

const STUDY_COLUMNS: IColumn<IStudy>[] = [
  { id: 'name', label: 'study', render: s => s.name, value: s => s.name },
  {
    id: 'backend',
    label: 'backend',
    render: s => s.backend,
    value: s => s.backend
  },
  {
    id: 'status',
    label: 'status',
    render: s => <Status status={s.status} />,
    value: s => s.status
  },
  {
    id: 'best',
    label: 'best',
    render: best,
    value: s => s.best?.value ?? -Infinity
  },
  {
    id: 'trials',
    label: 'trials',
    render: s => `${done(s)}/${s.trials_budget}`,
    value: done
  },
  {
    id: 'created',
    label: 'created',
    render: s => when(s.created_at),
    value: s => s.created_at
  }
];

const TRIAL_COLUMNS: IColumn<ITrial>[] = [
  { id: 'number', label: '#', render: t => t.number, value: t => t.number },
  {
    id: 'status',
    label: 'status',
    render: t => <Status status={t.status} />,
    value: t => t.status
  },
  {
    id: 'value',
    label: 'value',
    render: t => num(t.value),
    value: t => t.value ?? -Infinity
  },
  {
    id: 'best',
    label: 'best so far',
    render: t => num(t.best_so_far),
    value: t => t.best_so_far ?? -Infinity
  },
  {
    id: 'params',
    label: 'params',
    render: t => pairs(t.params),
    value: t => pairs(t.params)
  },
  {
    id: 'duration',
    label: 'duration',
    render: t => (t.duration === null ? '-' : span(t.duration)),
    value: t => t.duration ?? -1
  },
  {
    id: 'job',
    label: 'job',
    render: t => t.job_id || '-',
    value: t => t.job_id || ''
  }
];

/** The objective of each trial and the best so far, by trial number. */
export function trialSeries(trials: ITrial[]): ISeries[] {
  const value = (t: ITrial) => t.value !== null && t.value !== undefined;
  return [
    {
      label: 'objective',
      points: trials.filter(value).map(t => [t.number, t.value!])
    },
    {
      label: 'best so far',
      points: trials
        .filter(t => t.best_so_far !== null && t.best_so_far !== undefined)
        .map(t => [t.number, t.best_so_far!])
    }
  ];
}

function StudyDetails(props: { view: IViewProps; name: string }): JSX.Element {
  const { view, name } = props;
  const study = usePolled(
    view.model,
    () => view.model.service.study(name),
    [name],
    view.visible,
    view.onError
  ).data;
  const series = React.useMemo(() => trialSeries(study?.trials || []), [study]);
  if (!study) {
    return <p className="jsml-empty">loading {name}...</p>;
  }
  return (
    <section className="jsml-page" data-study-page={name}>
      <h3>
        {name}: {best(study)}
      </h3>
      <LineChart title="objective by trial" series={series} time={false} />
      <DataTable
        label={`trials of ${name}`}
        rows={study.trials || []}
        columns={TRIAL_COLUMNS}
        rowKey={t => String(t.number)}
        rowProps={t =>
          t.job_id ? { 'data-job': t.job_id } : ({} as Record<string, string>)
        }
        onOpen={t => t.job_id && view.open({ kind: 'job', id: t.job_id })}
        empty="No trials yet."
      />
    </section>
  );
}

export function TuningDashboard(view: IViewProps): JSX.Element {
  const data = useStudies(view);
  const [chosen, setChosen] = React.useState<string | null>(null);
  return (
    <>
      <DataTable
        label="tuning studies"
        rows={data?.studies || []}
        columns={STUDY_COLUMNS}
        rowKey={s => s.name}
        rowProps={s => ({ 'data-study': s.name })}
        onOpen={s => setChosen(s.name)}
        empty={
          data
            ? 'No tuning studies. Start one with %%tune.'
            : 'loading studies...'
        }
        initialSort={{ id: 'created', direction: -1 }}
      />
      {chosen && <StudyDetails key={chosen} view={view} name={chosen} />}
    </>
  );
}

/** The tab (index.ts adds it to the registry). */
export const tuningTab: ITab = {
  id: 'tuning',
  label: 'Tuning',
  feature: 'tuning',
  rank: 40,
  icon: tuningIcon,
  sidebar: TuningSidebar,
  dashboard: TuningDashboard
};
