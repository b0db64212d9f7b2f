/**
 * The Endpoints tab. Sidebar: a compact list (name, status, replicas, requests
 * a minute, p50) whose rows expand to the invocation URL, curl, traffic split,
 * a multi-model endpoint's models, memory (endpointscale.tsx) and Undeploy. Dashboard: a full table; an endpoint's page (endpointpage.tsx).
 */
import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import {
  copyIcon,
  deleteIcon,
  LabIcon,
  launchIcon,
  ToolbarButtonComponent
} from '@jupyterlab/ui-components';
import * as React from 'react';

import { IEndpoint, ServerlessService } from './api';
import { activate, arrowKeys, ms, Status } from './common';
import { EndpointMemory, ModelSet } from './endpointscale';
import { usePolled } from './hooks';
import { ITab, IViewProps } from './registry';
import { DataTable, IColumn } from './table';

/** The endpoint icon: a plug (Lab has none). */
export const endpointIcon = new LabIcon({
  name: 'jupyter-serverless-ml:endpoint',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><path class="jp-icon3" fill="#616161" d="M16 7V3h-2v4h-4V3H8v4H7a1 1 0 0 0-1 1v5a6 6 0 0 0 5 5.9V22h2v-3.1a6 6 0 0 0 5-5.9V8a1 1 0 0 0-1-1h-1z"/></svg>`
});

/** `data-*` of an endpoint's row, read by the context menu's commands. */
export const endpointRowProps = (e: IEndpoint): Record<string, string> => ({
  'data-endpoint': e.name,
  'data-status': e.status,
  className: 'jsml-endpoint-row'
});

/** Ask, then drain and delete an endpoint; true when it was undeployed. */
export async function confirmUndeploy(
  service: ServerlessService,
  name: string
): Promise<boolean> {
  const answer = await showDialog({
    title: `Undeploy ${name}?`,
    body: 'In-flight requests finish first; then its replicas stop and the endpoint is deleted.',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Undeploy' })]
  });
  if (!answer.button.accept) {
    return false;
  }
  await service.undeploy(name);
  return true;
}

/** The traffic split as one bar of shares, with each variant named. */
export function TrafficSplit(props: { endpoint: IEndpoint }): JSX.Element {
  const entries = Object.entries(props.endpoint.traffic);
  return (
    <div className="jsml-traffic" aria-label="traffic split">
      <div className="jsml-traffic-bar" role="presentation">
        {entries.map(([variant, share], i) => (
          <span
            key={variant}
            className={`jsml-traffic-share jsml-traffic-${i % 4}`}
            style={{ width: `${share}%` }}
            title={`${variant}: ${share}%`}
          />
        ))}
      </div>
      <ul className="jsml-traffic-legend">
        {entries.map(([variant, share], i) => (
          <li key={variant}>
            <span className={`jsml-swatch jsml-traffic-${i % 4}`} />
            {variant} {share}%
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The invocation URL and curl example, each with a Copy button. */
export function Invocation(props: { endpoint: IEndpoint }): JSX.Element {
  const { endpoint } = props;
  return (
    <>
      <div className="jsml-copy">
        <code className="jsml-url">{endpoint.invocation_url}</code>
        <ToolbarButtonComponent
          icon={copyIcon}
          tooltip="Copy the invocation URL"
          onClick={() => Clipboard.copyToSystem(endpoint.invocation_url || '')}
        />
      </div>
      <div className="jsml-copy">
        <code className="jsml-curl">{endpoint.curl}</code>
        <ToolbarButtonComponent
          icon={copyIcon}
          tooltip="Copy the curl example"
          onClick={() => Clipboard.copyToSystem(endpoint.curl || '')}
        />
      </div>
    </>
  );
}

export function EndpointsSidebar(view: IViewProps): JSX.Element {
  const { model } = view;
  const [open, setOpen] = React.useState<string | null>(null);
  const { data } = usePolled(
    model,
    () => model.service.endpoints(),
    [],
    view.visible,
    view.onError
  );
  const endpoints = data?.endpoints || [];
  if (data && endpoints.length === 0) {
    return (
      <p className="jsml-empty">
        No endpoints. Deploy a model with %deploy MODEL.
      </p>
    );
  }
  return (
    <ul className="jsml-list" aria-label="endpoints" onKeyDown={arrowKeys}>
      {endpoints.map(e => (
        <li key={e.name} {...endpointRowProps(e)}>
          <div
            className="jsml-row"
            data-row=""
            role="button"
            tabIndex={0}
            aria-expanded={open === e.name}
            {...activate(() => setOpen(open === e.name ? null : e.name))}
          >
            <span className="jsml-row-name" title={e.name}>
              {e.name}
            </span>
            <Status status={e.status} />
            <span className="jsml-row-meta">
              <span className="jsml-replicas" title="replicas now/min/max">
                {e.replicas}/{e.min_replicas}/{e.max_replicas}
              </span>{' '}
              · {e.stats.requests_last_minute}/min · p50 {ms(e.stats.p50_ms)} ms
            </span>
          </div>
          {open === e.name && (
            <div className="jsml-details" data-details={e.name}>
              <div className="jsml-details-head">
                <ToolbarButtonComponent
                  className="jsml-undeploy"
                  icon={deleteIcon}
                  label="Undeploy"
                  tooltip={`Undeploy ${e.name}`}
                  onClick={() =>
                    view.act(() => confirmUndeploy(model.service, e.name))
                  }
                />
                <ToolbarButtonComponent
                  className="jsml-open"
                  icon={launchIcon}
                  label="Open"
                  tooltip="Open the endpoint's page in the dashboard"
                  onClick={() => view.open({ kind: 'endpoint', name: e.name })}
                />
              </div>
              <Invocation endpoint={e} />
              <TrafficSplit endpoint={e} />
              <div className="jsml-row-meta">
                {e.backend} · errors {(e.stats.error_rate * 100).toFixed(1)}% ·
                cold starts {e.cold_starts}
              </div>
              <ModelSet endpoint={e} />
              <EndpointMemory endpoint={e} />
            </div>
          )}
        </li>
      ))}
    </ul>
  );
}

const ENDPOINT_COLUMNS: IColumn<IEndpoint>[] = [
  { id: 'name', label: 'endpoint', render: e => e.name, value: e => e.name },
  {
    id: 'backend',
    label: 'backend',
    render: e => e.backend,
    value: e => e.backend
  },
  {
    id: 'status',
    label: 'status',
    render: e => <Status status={e.status} />,
    value: e => e.status
  },
  {
    id: 'replicas',
    label: 'replicas',
    title: 'now/min/max',
    render: e => `${e.replicas}/${e.min_replicas}/${e.max_replicas}`,
    value: e => e.replicas
  },
  {
    id: 'traffic',
    label: 'traffic',
    render: e =>
      Object.entries(e.traffic)
        .map(([k, v]) => `${k} ${v}%`)
        .join(', '),
    value: e => Object.keys(e.traffic).join(',')
  },
  {
    id: 'rpm',
    label: 'req/min',
    render: e => e.stats.requests_last_minute,
    value: e => e.stats.requests_last_minute
  },
  {
    id: 'p50',
    label: 'p50 ms',
    render: e => ms(e.stats.p50_ms),
    value: e => e.stats.p50_ms ?? -1
  },
  {
    id: 'p95',
    label: 'p95 ms',
    render: e => ms(e.stats.p95_ms),
    value: e => e.stats.p95_ms ?? -1
  },
  {
    id: 'errors',
    label: 'errors',
    render: e => `${(e.stats.error_rate * 100).toFixed(1)}%`,
    value: e => e.stats.error_rate
  },
  {
    id: 'cold',
    label: 'cold starts',
    render: e => e.cold_starts,
    value: e => e.cold_starts
  }
];

export function EndpointsDashboard(view: IViewProps): JSX.Element {
  const { model } = view;
  const { data } = usePolled(
    model,
    () => model.service.endpoints(),
    [],
    view.visible,
    view.onError
  );
  return (
    <DataTable
      label="endpoints"
      rows={data?.endpoints || []}
      columns={ENDPOINT_COLUMNS}
      rowKey={e => e.name}
      rowProps={endpointRowProps}
      onOpen={e => view.open({ kind: 'endpoint', name: e.name })}
      empty={
        data
          ? 'No endpoints. Deploy a model with %deploy MODEL.'
          : 'loading endpoints...'
      }
    />
  );
}

/** The tab (index.ts adds it to the registry). */
export const endpointsTab: ITab = {
  id: 'endpoints',
  label: 'Endpoints',
  feature: 'serving',
  rank: 20,
  icon: endpointIcon,
  sidebar: EndpointsSidebar,
  dashboard: EndpointsDashboard
};
