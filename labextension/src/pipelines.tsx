/**
 * The Pipelines tab (feature `pipelines`): pipelines with their last run's
 * status; one opens to its graph (dag.tsx) with each step's status in the last
 * run. Dashboard: the pipelines' table and, for the one chosen, its runs and the
 * newest run's graph and steps.
 */
import { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IPipeline, IPipelineRun } from './api';
import { ago, span, Status, when } from './common';
import { PipelineGraph } from './dag';
import { usePolled } from './hooks';
import { ITab, IViewProps } from './registry';
import { ExpandingList } from './rows';
import { DataTable, IColumn } from './table';

export const pipelineIcon = new LabIcon({
  name: 'jupyter-serverless-ml:pipeline',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" d="M4 3h6v6H8v2h8V9h-2V3h6v6h-2v4h-5v2h2v6H9v-6h2v-2H6V9H4V3zm2 2v2h2V5H6zm10 0v2h2V5h-2zm-5 12v2h2v-2h-2z"/></svg>`
});

function usePipelines(view: IViewProps) {
  return usePolled(
    view.model,
    () => view.model.service.pipelines(),
    [],
    view.visible,
    view.onError
  ).data;
}

const lastRun = (p: IPipeline) =>
  p.last_run ? `last run ${ago(p.last_run.created_at)}` : 'never run';

/** A pipeline's graph with each step's status in its last run (polled while open). */
function SidebarGraph(props: { view: IViewProps; pipeline: IPipeline }) {
  const { view, pipeline } = props;
  const runId = pipeline.last_run?.id || null;
  const run = usePolled(
    view.model,
    async () => (runId ? view.model.service.pipelineRun(runId) : null),
    [runId, pipeline.last_run?.status],
    view.visible,
    view.onError
  ).data;
  const steps = run?.steps || pipeline.steps;
  return (
    <>
      <PipelineGraph
        label={`graph of ${pipeline.name}`}
        steps={steps}
        edges={run?.edges || pipeline.edges}
        onOpen={s => s.job_id && view.open({ kind: 'job', id: s.job_id })}
      />
      {run?.failure_reason && (
        <pre className="jsml-failure">{run.failure_reason}</pre>
      )}
    </>
  );
}

export function PipelinesSidebar(view: IViewProps): JSX.Element {
  const data = usePipelines(view);
  if (data && data.pipelines.length === 0) {
    return (
      <p className="jsml-empty">No pipelines. Define one with %%pipeline.</p>
    );
  }
  return (
    <ExpandingList
      label="pipelines"
      items={data?.pipelines || []}
      itemKey={p => `${p.backend}/${p.name}`}
      name={p => p.name}
      status={p => p.last_run?.status || null}
      rowProps={p => ({ 'data-pipeline': p.name })}
      meta={p => `${p.backend} · ${p.steps.length} steps · ${lastRun(p)}`}
      details={p => <SidebarGraph view={view} pipeline={p} />}
    />
  );
}

const PIPELINE_COLUMNS: IColumn<IPipeline>[] = [
  { id: 'name', label: 'pipeline', render: p => p.name, value: p => p.name },
  {
    id: 'backend',
    label: 'backend',
    render: p => p.backend,
    value: p => p.backend
  },
  {
    id: 'steps',
    label: 'steps',
    render: p => p.steps.length,
    value: p => p.steps.length
  },
  {
    id: 'status',
    label: 'last run',
    render: p => (p.last_run ? <Status status={p.last_run.status} /> : '-'),
    value: p => p.last_run?.status || ''
  },
  {
    id: 'when',
    label: 'when',
    render: p => when(p.last_run?.created_at),
    value: p => p.last_run?.created_at || 0
  }
];

type Step = NonNullable<IPipelineRun['steps']>[number];
const STEP_COLUMNS: IColumn<Step>[] = [
  { id: 'name', label: 'step', render: s => s.name, value: s => s.name },
  { id: 'kind', label: 'kind', render: s => s.kind, value: s => s.kind },
  {
    id: 'status',
    label: 'status',
    render: s => <Status status={s.status} />,
    value: s => s.status
  },
  {
    id: 'cache',
    label: 'cache',
    render: s => (s.cache_hit ? 'hit' : '-'),
    value: s => (s.cache_hit ? 1 : 0)
  },
  {
    id: 'duration',
    label: 'duration',
    render: s => (s.duration === null ? '-' : span(s.duration)),
    value: s => s.duration ?? -1
  },
  {
    id: 'failure',
    label: 'failure',
    render: s => s.failure_reason || '',
    value: s => s.failure_reason || ''
  }
];

const RUN_COLUMNS: IColumn<IPipelineRun>[] = [
  { id: 'id', label: 'run', render: r => r.id, value: r => r.id },
  {
    id: 'status',
    label: 'status',
    render: r => <Status status={r.status} />,
    value: r => r.status
  },
  {
    id: 'created',
    label: 'started',
    render: r => when(r.created_at),
    value: r => r.created_at
  },
  {
    id: 'duration',
    label: 'duration',
    render: r => (r.duration ? span(r.duration) : '-'),
    value: r => r.duration ?? -1
  },
  {
    id: 'cache',
    label: 'cache hits',
    render: r => r.cache_hits ?? 0,
    value: r => r.cache_hits ?? 0
  }
];

function PipelineRuns(props: { view: IViewProps; name: string }): JSX.Element {
  const { view, name } = props;
  const data = usePolled(
    view.model,
    () => view.model.service.pipelineRuns(name),
    [name],
    view.visible,
    view.onError
  ).data;
  const newest = data?.runs[0];
  return (
    <section className="jsml-page" data-pipeline-page={name}>
      <h3>Runs of {name}</h3>
      <DataTable
        label={`runs of ${name}`}
        rows={data?.runs || []}
        columns={RUN_COLUMNS}
        rowKey={r => r.id}
        empty={data ? 'No runs yet.' : 'loading runs...'}
      />
      {newest && (
        <>
          <h3>Steps of the newest run ({newest.id})</h3>
          <PipelineGraph
            label={`graph of ${newest.id}`}
            steps={newest.steps || []}
            edges={newest.edges}
            onOpen={s => s.job_id && view.open({ kind: 'job', id: s.job_id })}
          />
          <DataTable
            label={`steps of ${newest.id}`}
            rows={newest.steps || []}
            columns={STEP_COLUMNS}
            rowKey={s => s.name}
            rowProps={s =>
              s.job_id
                ? { 'data-job': s.job_id }
                : ({} as Record<string, string>)
            }
            onOpen={s => s.job_id && view.open({ kind: 'job', id: s.job_id })}
            empty="No steps."
          />
        </>
      )}
    </section>
  );
}

export function PipelinesDashboard(view: IViewProps): JSX.Element {
  const data = usePipelines(view);
  const [chosen, setChosen] = React.useState<string | null>(null);
  return (
    <>
      <DataTable
        label="pipelines"
        rows={data?.pipelines || []}
        columns={PIPELINE_COLUMNS}
        rowKey={p => `${p.backend}/${p.name}`}
        rowProps={p => ({ 'data-pipeline': p.name })}
        onOpen={p => setChosen(p.name)}
        empty={
          data
            ? 'No pipelines. Define one with %%pipeline.'
            : 'loading pipelines...'
        }
      />
      {chosen && <PipelineRuns key={chosen} view={view} name={chosen} />}
    </>
  );
}

/** The tab (index.ts adds it to the registry). */
export const pipelinesTab: ITab = {
  id: 'pipelines',
  label: 'Pipelines',
  feature: 'pipelines',
  rank: 45,
  icon: pipelineIcon,
  sidebar: PipelinesSidebar,
  dashboard: PipelinesDashboard
};
