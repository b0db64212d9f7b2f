/**
 * The Models tab: registered versions with their stage and approval, metrics and
 * what serves each; a version opens to Promote, Approve and Reject
 * (modelactions.tsx), in the sidebar and in the dashboard.
 */
import { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IModel } from './api';
import { activate, arrowKeys, pairs, Status, when } from './common';
import { usePolled } from './hooks';
import { ModelActions } from './modelactions';
import { ITab, IViewProps } from './registry';
import { DataTable, IColumn } from './table';

export const modelIcon = new LabIcon({
  name: 'jupyter-serverless-ml:model',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" d="M12 2 3 7v10l9 5 9-5V7l-9-5zm0 2.3L18.7 8 12 11.7 5.3 8 12 4.3zM5 9.7l6 3.3v6.7l-6-3.3V9.7zm8 10V13l6-3.3v6.7l-6 3.3z"/></svg>`
});

const servedBy = (m: IModel) =>
  m.endpoints
    .map(e => `${e.endpoint}/${e.variant} (${e.traffic}%)`)
    .join(', ') || '-';

function useModels(view: IViewProps) {
  return usePolled(
    view.model,
    () => view.model.service.models(),
    [],
    view.visible,
    view.onError
  ).data;
}

const refOf = (m: IModel) => `${m.name}:${m.version}`;

/** An approval's short name for a 250 px row (the full one is its tooltip). */
const SHORT_APPROVAL: Record<string, string> = {
  PendingManualApproval: 'pending',
  Approved: 'approved',
  Rejected: 'rejected'
};

/** The approval as a badge (a backend without approvals has none). */
function Approval(props: { model: IModel }): JSX.Element | null {
  const approval = props.model.approval;
  return approval ? (
    <span className="jsml-approval" aria-label={`approval ${approval}`}>
      <Status status={approval} label={SHORT_APPROVAL[approval]} />
    </span>
  ) : null;
}

/** What a version's opened row shows: stage, approval, serving, actions. */
function ModelDetails(props: { view: IViewProps; model: IModel }) {
  const { model } = props;
  return (
    <div className="jsml-details" data-details={refOf(model)}>
      <dl>
        <dt>stage</dt>
        <dd>
          <Status status={model.stage} />
          {model.promoted_at ? ` since ${when(model.promoted_at)}` : ''}
        </dd>
        <dt>approval</dt>
        <dd>{model.approval ? <Status status={model.approval} /> : '-'}</dd>
        <dt>metrics</dt>
        <dd>{pairs(model.metrics)}</dd>
        <dt>served by</dt>
        <dd>{servedBy(model)}</dd>
      </dl>
      <ModelActions view={props.view} model={model} />
    </div>
  );
}

export function ModelsSidebar(view: IViewProps): JSX.Element {
  const data = useModels(view);
  const [open, setOpen] = React.useState<string | null>(null);
  const models = data?.models || [];
  if (data && models.length === 0) {
    return (
      <p className="jsml-empty">
        No models yet. A %%train cell that sets `model` registers one.
      </p>
    );
  }
  return (
    <ul className="jsml-list" aria-label="models" onKeyDown={arrowKeys}>
      {models.map(m => (
        <li
          key={`${m.name}:${m.version}`}
          data-model={`${m.name}:${m.version}`}
        >
          <div
            className="jsml-row"
            data-row=""
            role="button"
            tabIndex={0}
            aria-expanded={open === refOf(m)}
            {...activate(() => setOpen(open === refOf(m) ? null : refOf(m)))}
          >
            <span className="jsml-row-name" title={m.metadata?.class}>
              {m.name}:{m.version}
            </span>
            <span className="jsml-badges">
              <Status status={m.stage} />
              <Approval model={m} />
            </span>
            <span className="jsml-row-meta" title={servedBy(m)}>
              {m.flavor} · {pairs(m.metrics)}
            </span>
          </div>
          {open === refOf(m) && <ModelDetails view={view} model={m} />}
        </li>
      ))}
    </ul>
  );
}

const MODEL_COLUMNS: IColumn<IModel>[] = [
  { id: 'name', label: 'model', render: m => m.name, value: m => m.name },
  {
    id: 'version',
    label: 'version',
    render: m => m.version,
    value: m => m.version
  },
  {
    id: 'flavor',
    label: 'flavor',
    render: m => m.flavor,
    value: m => m.flavor
  },
  {
    id: 'stage',
    label: 'stage',
    render: m => <Status status={m.stage} />,
    value: m => m.stage
  },
  {
    id: 'approval',
    label: 'approval',
    render: m => (m.approval ? <Status status={m.approval} /> : '-'),
    value: m => m.approval || ''
  },
  {
    id: 'metrics',
    label: 'metrics',
    render: m => pairs(m.metrics),
    value: m => pairs(m.metrics)
  },
  { id: 'served', label: 'served by', render: servedBy, value: servedBy }
];

export function ModelsDashboard(view: IViewProps): JSX.Element {
  const data = useModels(view);
  const [chosen, setChosen] = React.useState<string | null>(null);
  const picked = (data?.models || []).find(m => refOf(m) === chosen);
  return (
    <>
      <DataTable
        label="models"
        rows={data?.models || []}
        columns={MODEL_COLUMNS}
        rowKey={refOf}
        rowProps={m => ({ 'data-model': refOf(m) })}
        onOpen={m => setChosen(refOf(m))}
        empty={data ? 'No models match.' : 'loading models...'}
      />
      {picked && (
        <section className="jsml-page" data-model-page={refOf(picked)}>
          <h3>{refOf(picked)}</h3>
          <ModelDetails view={view} model={picked} />
        </section>
      )}
    </>
  );
}

/** The tab (index.ts adds it to the registry). */
export const modelsTab: ITab = {
  id: 'models',
  label: 'Models',
  feature: 'registry',
  rank: 30,
  icon: modelIcon,
  sidebar: ModelsSidebar,
  dashboard: ModelsDashboard
};
