/** The Models tab: registered versions, their metrics, and what serves each. */
import { LabIcon } from '@jupyterlab/ui-components';
import * as React from 'react';

import { IModel } from './api';
import { arrowKeys, pairs, Status } from './common';
import { usePolled } from './hooks';
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

export function ModelsSidebar(view: IViewProps): JSX.Element {
  const data = useModels(view);
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
          <div className="jsml-row" data-row="" tabIndex={0}>
            <span className="jsml-row-name" title={m.metadata?.class}>
              {m.name}:{m.version}
            </span>
            <Status status={m.stage} />
            <span className="jsml-row-meta" title={servedBy(m)}>
              {m.flavor} · {pairs(m.metrics)}
            </span>
          </div>
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
    id: 'metrics',
    label: 'metrics',
    render: m => pairs(m.metrics),
    value: m => pairs(m.metrics)
  },
  { id: 'served', label: 'served by', render: servedBy, value: servedBy }
];

export function ModelsDashboard(view: IViewProps): JSX.Element {
  const data = useModels(view);
  return (
    <DataTable
      label="models"
      rows={data?.models || []}
      columns={MODEL_COLUMNS}
      rowKey={m => `${m.name}:${m.version}`}
      rowProps={m => ({ 'data-model': `${m.name}:${m.version}` })}
      empty={data ? 'No models match.' : 'loading models...'}
    />
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
