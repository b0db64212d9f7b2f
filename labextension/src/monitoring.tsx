/** The Costs and Alerts tabs. */
import * as React from 'react';

import { IAlert, ICosts, ServerlessService } from './api';
import { when, money } from './common';
import { Bars } from './charts';

export function CostsTab(props: { costs: ICosts | null }): JSX.Element {
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

export function AlertsTab(props: {
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
