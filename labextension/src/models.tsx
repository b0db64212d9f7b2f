/** The Models tab: registered versions, their metrics, and what serves each. */
import * as React from 'react';

import { IModel } from './api';

export function ModelsTab(props: { models: IModel[] }): JSX.Element {
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
