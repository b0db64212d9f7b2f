/**
 * Serving at scale, for an endpoint's expanded row and its dashboard page: what it
 * holds in memory (keep-warm, the templates' PSS, which is what it holds at zero
 * replicas, and each replica's PSS), and a multi-model endpoint's models with their
 * own counters and latency (requests, errors, p50, loaded or evicted).
 * Fields: `platform/serving/views.py`'s docstring.
 */
import * as React from 'react';

import { IEndpoint, IModelStats } from './api';
import { ms } from './common';

/** Bytes as MiB (`-` where the process is gone or the kernel does not say). */
export const mib = (bytes: number | null | undefined): string =>
  bytes === null || bytes === undefined
    ? '-'
    : `${(bytes / 1048576).toFixed(1)} MiB`;

/** Whether a model is loaded in some replica now, was evicted, or never loaded. */
export function modelState(m: IModelStats): string {
  if (m.loaded_in_replicas > 0) {
    return m.loaded_in_replicas === 1
      ? 'loaded'
      : `loaded in ${m.loaded_in_replicas} replicas`;
  }
  return m.evictions > 0 ? 'evicted' : 'not loaded';
}

/** Keep-warm, the templates' memory (held at zero replicas) and each replica's PSS. */
export function EndpointMemory(props: { endpoint: IEndpoint }): JSX.Element {
  const { endpoint } = props;
  const replicas = endpoint.variants.flatMap(v =>
    (v.replica_memory || []).map(r => ({ ...r, variant: v.name }))
  );
  const templates = endpoint.variants.filter(v => v.template);
  const warm =
    endpoint.keep_warm === null || endpoint.keep_warm === undefined
      ? '-'
      : endpoint.keep_warm
        ? 'on'
        : 'off';
  return (
    <dl className="jsml-memory" aria-label={`memory of ${endpoint.name}`}>
      <dt>keep-warm</dt>
      <dd data-keep-warm={warm}>{warm}</dd>
      <dt title="PSS of the templates: what the endpoint holds at zero replicas">
        at zero replicas
      </dt>
      <dd data-template-pss={endpoint.memory?.templates_pss_bytes ?? ''}>
        {mib(endpoint.memory?.templates_pss_bytes)}
        {templates.length > 0 &&
          ` (template${templates.length > 1 ? 's' : ''} ${templates
            .map(
              v => `${v.name}: loaded in ${ms(v.template!.load_ms ?? null)} ms`
            )
            .join(', ')})`}
      </dd>
      <dt>replicas (PSS)</dt>
      <dd>
        {replicas.length === 0 ? (
          'none running'
        ) : (
          <ul className="jsml-replica-memory" aria-label="replica memory">
            {replicas.map(r => (
              <li
                key={r.id}
                data-replica={r.id}
                data-pss={r.pss_bytes ?? ''}
                title={`pid ${r.pid} · RSS ${mib(r.rss_bytes)}${
                  r.template ? ' · forked from the template' : ''
                }`}
              >
                {r.id}: {mib(r.pss_bytes)}
                {r.template ? ' (forked)' : ''}
              </li>
            ))}
          </ul>
        )}
      </dd>
      {endpoint.memory && (
        <>
          <dt>total (PSS)</dt>
          <dd>{mib(endpoint.memory.total_pss_bytes)}</dd>
        </>
      )}
    </dl>
  );
}

/** A multi-model endpoint's models: counters, p50 and whether each is loaded. */
export function ModelSet(props: {
  endpoint: IEndpoint;
  wide?: boolean;
}): JSX.Element | null {
  const multi = props.endpoint.multi_model;
  if (!multi) {
    return null;
  }
  const set = props.endpoint.variants.find(v => v.model_set)?.model_set;
  const models = Object.entries(multi.models).sort(([a], [b]) =>
    a.localeCompare(b, undefined, { numeric: true })
  );
  return (
    <div className="jsml-model-set">
      <div className="jsml-row-meta">
        serves {set || multi.source || 'a model set'}
        {multi.cache_bytes ? ` · cache ${mib(multi.cache_bytes)}` : ''}
      </div>
      {models.length === 0 ? (
        <p className="jsml-empty">No model requested yet.</p>
      ) : (
        <table
          className={props.wide ? 'jp-sortable-table' : 'jsml-trials'}
          aria-label={`models of ${props.endpoint.name}`}
        >
          <thead>
            <tr className="jp-sortable-table-tr">
              <th scope="col">model</th>
              <th scope="col" title="requests">
                req
              </th>
              <th scope="col">errors</th>
              <th scope="col">p50 ms</th>
              {props.wide && <th scope="col">p95 ms</th>}
              {props.wide && <th scope="col">loads</th>}
              {props.wide && <th scope="col">evictions</th>}
              <th scope="col">state</th>
            </tr>
          </thead>
          <tbody>
            {models.map(([ref, m]) => (
              <tr
                key={ref}
                className="jp-sortable-table-tr"
                data-mm-model={ref}
                data-state={modelState(m)}
                title={m.last_error || undefined}
              >
                <td className="jsml-cell-name">{ref}</td>
                <td className="jsml-num">{m.requests}</td>
                <td className="jsml-num">{m.errors}</td>
                <td className="jsml-num">{ms(m.p50_ms)}</td>
                {props.wide && <td className="jsml-num">{ms(m.p95_ms)}</td>}
                {props.wide && <td className="jsml-num">{m.loads}</td>}
                {props.wide && <td className="jsml-num">{m.evictions}</td>}
                <td>{modelState(m)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
