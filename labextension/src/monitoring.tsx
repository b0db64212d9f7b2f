/**
 * The Costs and Alerts tabs. Costs: totals and this month in the sidebar; bars
 * by day and a table by resource in the dashboard; in both, what a `--max-cost`
 * budget stopped and why. Alerts: open ones first,
 * acknowledged in place; the tab shows how many are open.
 */
import {
  bellIcon,
  checkIcon,
  LabIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { IAlert, IBudgetHit, ICost, ICosts } from './api';
import { BarChart } from './charts';
import { ago, arrowKeys, money, Status, when } from './common';
import { usePolled } from './hooks';
import { ITab, IViewProps } from './registry';
import { DataTable, IColumn } from './table';

export const costIcon = new LabIcon({
  name: 'jupyter-serverless-ml:cost',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" d="M11.8 10.9c-2.3-.6-3-1.2-3-2.1 0-1.1 1-1.9 2.7-1.9 1.8 0 2.4.8 2.5 2.1h2.2c-.1-1.7-1.1-3.3-3.2-3.8V3h-3v2.2C8.1 5.6 6.6 6.9 6.6 8.8c0 2.3 1.9 3.4 4.6 4.1 2.5.6 3 1.5 3 2.4 0 .7-.5 1.8-2.7 1.8-2.1 0-2.9-.9-3-2.1H6.3c.1 2.2 1.8 3.5 3.7 3.9V21h3v-2.2c2-.4 3.5-1.5 3.5-3.6 0-2.8-2.4-3.8-4.7-4.3z"/></svg>`
});

function Totals(props: { total: ICost; month?: number | null }): JSX.Element {
  return (
    <dl className="jsml-totals">
      <dt>local</dt>
      <dd>{money(props.total.local)}</dd>
      <dt>SageMaker would bill</dt>
      <dd>{money(props.total.sagemaker)}</dd>
      <dt>Vertex AI would bill</dt>
      <dd>{money(props.total.vertex)}</dd>
      {props.total.billed !== undefined && (
        <>
          <dt>billed by the backends</dt>
          <dd>{money(props.total.billed)}</dd>
        </>
      )}
      <dt>instance-hours</dt>
      <dd>{props.total.instance_hours.toFixed(3)}</dd>
      {props.month !== undefined && (
        <>
          <dt>this month (SageMaker)</dt>
          <dd className="jsml-cost-month">{money(props.month)}</dd>
        </>
      )}
    </dl>
  );
}

/** Resources a `--max-cost` budget stopped, each with the reason recorded. */
function BudgetsHit(props: { items?: IBudgetHit[] }): JSX.Element | null {
  const items = props.items || [];
  if (items.length === 0) {
    return null;
  }
  return (
    <section className="jsml-budgets" aria-label="stopped by budget">
      <h3>Stopped by --max-cost</h3>
      <ul className="jsml-list">
        {items.map(i => (
          <li
            key={`${i.kind}/${i.resource}`}
            data-budget-hit={i.name}
            data-kind={i.kind}
          >
            <div className="jsml-row">
              <span className="jsml-row-name" title={i.resource}>
                {i.kind} {i.name}
              </span>
              <span>
                {money(i.billed ?? i.sagemaker)} / {money(i.max_cost)}
              </span>
            </div>
            <p className="jsml-failure jsml-budget-reason">
              {i.stopped_reason}
            </p>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Whether the ledger holds any use (it may list resources that cost nothing yet). */
export function costsAnything(costs: ICosts): boolean {
  const t = costs.total;
  return (
    costs.by_resource.length > 0 &&
    t.sagemaker + t.vertex + t.local + t.instance_hours + (t.billed || 0) > 0
  );
}

function useCosts(view: IViewProps): ICosts | null {
  return usePolled(
    view.model,
    () => view.model.service.costs(),
    [],
    view.visible,
    view.onError
  ).data;
}

export function CostsSidebar(view: IViewProps): JSX.Element {
  const costs = useCosts(view);
  if (!costs) {
    return <p className="jsml-empty">loading costs...</p>;
  }
  if (!costsAnything(costs)) {
    return (
      <p className="jsml-empty">
        Nothing has run yet, so nothing has cost anything.
      </p>
    );
  }
  return (
    <div className="jsml-costs">
      <Totals
        total={costs.total}
        month={view.model.summary?.cost_month?.sagemaker ?? null}
      />
      <ul className="jsml-list" aria-label="cost by resource type">
        {costs.by_resource.map(r => (
          <li key={r.kind} className="jsml-row">
            <span className="jsml-row-name">{r.kind}</span>
            <span>{money(r.sagemaker)}</span>
          </li>
        ))}
      </ul>
      <BudgetsHit items={costs.budgets_hit} />
      <p className="jsml-note">{costs.note}</p>
    </div>
  );
}

const COST_COLUMNS: IColumn<ICost & { kind: string }>[] = [
  { id: 'kind', label: 'resource', render: r => r.kind, value: r => r.kind },
  ...(['sagemaker', 'vertex', 'local'] as const).map(k => ({
    id: k,
    label: k,
    render: (r: ICost) => money(r[k]),
    value: (r: ICost) => r[k]
  })),
  {
    id: 'hours',
    label: 'instance-hours',
    render: r => r.instance_hours.toFixed(3),
    value: r => r.instance_hours
  }
];

export function CostsDashboard(view: IViewProps): JSX.Element {
  const costs = useCosts(view);
  const days = React.useMemo(
    () =>
      (costs?.by_day || []).map(d => ({
        label: d.day.slice(5),
        value: d.sagemaker
      })),
    [costs]
  );
  if (!costs) {
    return <p className="jsml-empty">loading costs...</p>;
  }
  return (
    <div className="jsml-costs">
      <Totals total={costs.total} />
      <h3>By day (SageMaker prices)</h3>
      <BarChart title="cost by day" items={days} format={money} />
      <h3>By resource type</h3>
      <DataTable
        label="cost by resource type"
        rows={costs.by_resource}
        columns={COST_COLUMNS}
        rowKey={r => r.kind}
        empty="Nothing has run yet, so nothing has cost anything."
      />
      <BudgetsHit items={costs.budgets_hit} />
      <p className="jsml-note">{costs.note}</p>
    </div>
  );
}

/** The Costs tab (index.ts adds it to the registry). */
export const costsTab: ITab = {
  id: 'costs',
  label: 'Costs',
  feature: 'monitoring',
  rank: 60,
  icon: costIcon,
  sidebar: CostsSidebar,
  dashboard: CostsDashboard
};

/** `data-*` of an alert's row, read by the context menu's Acknowledge. */
export const alertRowProps = (a: IAlert): Record<string, string> => ({
  'data-alert': String(a.id),
  className: `jsml-alert-row${a.acknowledged_at ? ' jsml-acked' : ''}`
});

function useAlerts(view: IViewProps): IAlert[] | null {
  return (
    usePolled(
      view.model,
      () => view.model.service.alerts(),
      [],
      view.visible,
      view.onError
    ).data?.alerts || null
  );
}

function Acknowledge(props: { view: IViewProps; alert: IAlert }): JSX.Element {
  const { view, alert } = props;
  return alert.acknowledged_at ? (
    <span className="jsml-note">acknowledged</span>
  ) : (
    <ToolbarButtonComponent
      className="jsml-ack"
      icon={checkIcon}
      label="Acknowledge"
      tooltip={`Acknowledge alert ${alert.id}`}
      onClick={() => view.act(() => view.model.service.acknowledge(alert.id))}
    />
  );
}

const measured = (a: IAlert) =>
  `${a.test} ${a.value ?? '-'} / ${a.threshold ?? '-'}`;

export function AlertsSidebar(view: IViewProps): JSX.Element {
  const alerts = useAlerts(view);
  if (alerts && alerts.length === 0) {
    return <p className="jsml-empty">No drift or monitor alerts.</p>;
  }
  return (
    <ul className="jsml-list" aria-label="alerts" onKeyDown={arrowKeys}>
      {(alerts || []).map(a => (
        <li key={a.id} {...alertRowProps(a)}>
          <div className="jsml-row" data-row="" tabIndex={0}>
            <span className="jsml-row-name" title={a.message}>
              {a.endpoint} · {a.feature || '-'}
            </span>
            <Status
              status={
                a.acknowledged_at ? 'Acknowledged' : a.status || 'InAlert'
              }
            />
            <span className="jsml-row-meta">
              {measured(a)} · {ago(a.created_at)}
            </span>
          </div>
          {!a.acknowledged_at && <Acknowledge view={view} alert={a} />}
        </li>
      ))}
    </ul>
  );
}

const ALERT_COLUMNS: IColumn<IAlert>[] = [
  {
    id: 'endpoint',
    label: 'endpoint',
    render: a => a.endpoint,
    value: a => a.endpoint
  },
  {
    id: 'feature',
    label: 'feature',
    render: a => a.feature,
    value: a => a.feature
  },
  {
    id: 'test',
    label: 'value / threshold',
    render: measured,
    value: a => a.value ?? -1
  },
  {
    id: 'message',
    label: 'message',
    render: a => a.message,
    value: a => a.message
  },
  {
    id: 'when',
    label: 'when',
    render: a => when(a.created_at),
    value: a => a.created_at
  },
  {
    id: 'state',
    label: 'state',
    render: a => (
      <Status
        status={a.acknowledged_at ? 'Acknowledged' : a.status || 'InAlert'}
      />
    ),
    value: a => (a.acknowledged_at ? 1 : 0)
  }
];

export function AlertsDashboard(view: IViewProps): JSX.Element {
  const alerts = useAlerts(view);
  return (
    <DataTable
      label="alerts"
      rows={alerts || []}
      columns={[
        ...ALERT_COLUMNS,
        {
          id: 'ack',
          label: '',
          render: a => <Acknowledge view={view} alert={a} />,
          value: a => (a.acknowledged_at ? 1 : 0)
        }
      ]}
      rowKey={a => String(a.id)}
      rowProps={alertRowProps}
      empty={alerts ? 'No drift or monitor alerts.' : 'loading alerts...'}
      initialSort={{ id: 'when', direction: -1 }}
    />
  );
}

/** The Alerts tab, with the open alerts' count on it. */
export const alertsTab: ITab = {
  id: 'alerts',
  label: 'Alerts',
  feature: 'monitoring',
  rank: 70,
  icon: bellIcon,
  sidebar: AlertsSidebar,
  dashboard: AlertsDashboard,
  badge: model => model.summary?.open_alerts || null
};
