/** The Endpoints tab: endpoints, and one endpoint's chart, variants and invocation. */
import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { Poll } from '@lumino/polling';
import * as React from 'react';

import { APIError, IEndpoint, ServerlessService } from './api';
import { History } from './charts';
import { ms, Status, describe } from './common';

export function EndpointsTab(props: {
  service: ServerlessService;
  endpoints: IEndpoint[];
  selected: string | null;
  select: (name: string | null) => void;
  act: (what: () => Promise<unknown>) => Promise<void>;
  onError: (message: string) => void;
}): JSX.Element {
  if (props.endpoints.length === 0) {
    return (
      <p className="jsml-empty">
        No endpoints. Deploy a model with %deploy MODEL.
      </p>
    );
  }
  return (
    <div>
      <table className="jsml-table jsml-endpoints">
        <thead>
          <tr>
            <th>endpoint</th>
            <th>backend</th>
            <th>status</th>
            <th title="now/min/max">replicas</th>
            <th>traffic</th>
            <th>req/min</th>
            <th>p50/p95 ms</th>
            <th>errors</th>
            <th>cold starts</th>
          </tr>
        </thead>
        <tbody>
          {props.endpoints.map(e => (
            <tr
              key={e.name}
              data-endpoint={e.name}
              className={e.name === props.selected ? 'jsml-selected' : ''}
              onClick={() =>
                props.select(e.name === props.selected ? null : e.name)
              }
            >
              <td>{e.name}</td>
              <td>{e.backend}</td>
              <td>
                <Status status={e.status} />
              </td>
              <td className="jsml-replicas">
                {e.replicas}/{e.min_replicas}/{e.max_replicas}
              </td>
              <td>
                {Object.entries(e.traffic)
                  .map(([k, v]) => `${k} ${v}%`)
                  .join(', ')}
              </td>
              <td>{e.stats.requests_last_minute}</td>
              <td>
                {ms(e.stats.p50_ms)}/{ms(e.stats.p95_ms)}
              </td>
              <td>{(e.stats.error_rate * 100).toFixed(1)}%</td>
              <td>{e.cold_starts}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {props.selected && (
        <EndpointDetails
          key={props.selected}
          name={props.selected}
          service={props.service}
          act={props.act}
          onError={props.onError}
          onGone={() => props.select(null)}
        />
      )}
    </div>
  );
}

function EndpointDetails(props: {
  name: string;
  service: ServerlessService;
  act: (what: () => Promise<unknown>) => Promise<void>;
  onError: (message: string) => void;
  onGone: () => void;
}): JSX.Element {
  const [endpoint, setEndpoint] = React.useState<IEndpoint | null>(null);
  React.useEffect(() => {
    const poll = new Poll({
      factory: async () => {
        try {
          setEndpoint(await props.service.endpoint(props.name));
        } catch (reason) {
          if (reason instanceof APIError && reason.status === 404) {
            props.onGone();
            return;
          }
          props.onError(describe(reason));
          throw reason;
        }
      },
      frequency: { interval: 3000, backoff: true, max: 30 * 1000 },
      standby: 'when-hidden',
      name: `jupyter-serverless-ml:endpoint:${props.name}`
    });
    void poll.start();
    return () => poll.dispose();
  }, [props.name]);
  if (!endpoint) {
    return <div className="jsml-details">loading {props.name}...</div>;
  }
  const history = endpoint.history || [];
  const replicas = history
    .filter(
      e => e.kind === 'scale' && e.value !== null && e.value !== undefined
    )
    .map(e => ({ t: e.ts, v: Number(e.value) }));
  const latency = history
    .filter(
      e => e.kind === 'stats' && e.value !== null && e.value !== undefined
    )
    .map(e => ({ t: e.ts, v: Number(e.value) }));
  const undeploy = async () => {
    const answer = await showDialog({
      title: `Undeploy ${endpoint.name}?`,
      body: 'In-flight requests finish first; then its replicas stop and the endpoint is deleted.',
      buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Undeploy' })]
    });
    if (answer.button.accept) {
      await props.act(() => props.service.undeploy(endpoint.name));
      props.onGone();
    }
  };
  return (
    <div className="jsml-details" data-details={endpoint.name}>
      <div className="jsml-details-head">
        <strong>{endpoint.name}</strong> <Status status={endpoint.status} />
        <button
          className="jp-mod-styled jp-mod-warn jsml-undeploy"
          onClick={undeploy}
        >
          Undeploy
        </button>
      </div>
      <div className="jsml-copy">
        <code className="jsml-url">{endpoint.invocation_url}</code>
        <button
          onClick={() => Clipboard.copyToSystem(endpoint.invocation_url || '')}
        >
          Copy URL
        </button>
      </div>
      <div className="jsml-copy">
        <code>{endpoint.curl}</code>
        <button onClick={() => Clipboard.copyToSystem(endpoint.curl || '')}>
          Copy curl
        </button>
      </div>
      <History replicas={replicas} latency={latency} now={Date.now() / 1000} />
      <ul className="jsml-variants">
        {endpoint.variants.map(v => (
          <li key={v.name}>
            {v.name}: {v.model}, {v.traffic}% of traffic, {v.replicas} ready
            {v.starting ? `, ${v.starting} starting` : ''} (min {v.min_replicas}
            , max {v.max_replicas})
          </li>
        ))}
      </ul>
      <div>
        cold starts:{' '}
        {(endpoint.cold_start_ms || [])
          .slice(-8)
          .map(c => `${c.toFixed(0)} ms`)
          .join(', ') || 'none'}
      </div>
    </div>
  );
}
