/**
 * Small charts in plain SVG: bars (costs) and a two-series line chart (replicas, latency).
 */
import * as React from 'react';

export function Bars(props: {
  items: { label: string; value: number }[];
  format: (v: number) => string;
  title: string;
}): JSX.Element {
  const max = Math.max(...props.items.map(i => i.value), 1e-9);
  const row = 18;
  const width = 260;
  return (
    <svg
      className="jsml-chart"
      width={width}
      height={row * props.items.length + 4}
      role="img"
      aria-label={props.title}
    >
      {props.items.map((item, index) => {
        const length = Math.max(1, (item.value / max) * (width - 150));
        return (
          <g key={item.label} transform={`translate(0, ${index * row})`}>
            <text x={0} y={13} className="jsml-chart-label">
              {item.label}
            </text>
            <rect
              x={80}
              y={3}
              width={length}
              height={12}
              className="jsml-bar"
            />
            <text x={84 + length} y={13} className="jsml-chart-value">
              {props.format(item.value)}
            </text>
          </g>
        );
      })}
    </svg>
  );
}

/** Replicas (steps) and p50 latency (points) over the last hour. */
export function History(props: {
  replicas: { t: number; v: number }[];
  latency: { t: number; v: number }[];
  now: number;
}): JSX.Element {
  const width = 260;
  const height = 70;
  const first = Math.min(
    props.now,
    ...props.replicas.map(p => p.t),
    ...props.latency.map(p => p.t)
  );
  const span = Math.min(3600, Math.max(10, (props.now - first) * 1.2));
  const start = props.now - span;
  const x = (t: number) => ((t - start) / span) * width;
  const maxReplicas = Math.max(1, ...props.replicas.map(p => p.v));
  const maxLatency = Math.max(1e-3, ...props.latency.map(p => p.v));
  let path = '';
  let last = props.replicas.length ? props.replicas[0].v : 0;
  props.replicas.forEach((p, i) => {
    const y = height - (p.v / maxReplicas) * (height - 18) - 2;
    const prev = height - (last / maxReplicas) * (height - 18) - 2;
    path += i === 0 ? `M${x(p.t)},${y}` : ` L${x(p.t)},${prev} L${x(p.t)},${y}`;
    last = p.v;
  });
  if (props.replicas.length) {
    const y = height - (last / maxReplicas) * (height - 18) - 2;
    path += ` L${width},${y}`;
  }
  return (
    <svg
      className="jsml-chart"
      width={width}
      height={height}
      role="img"
      aria-label="replicas and latency, last hour"
    >
      <rect
        x={0}
        y={0}
        width={width}
        height={height}
        className="jsml-chart-frame"
      />
      <path d={path} className="jsml-line-replicas" />
      {props.latency.map(p => (
        <circle
          key={p.t}
          cx={x(p.t)}
          cy={height - (p.v / maxLatency) * (height - 18) - 2}
          r={2}
          className="jsml-dot-latency"
        />
      ))}
      <text x={4} y={11} className="jsml-chart-label">
        last{' '}
        {span < 120 ? `${Math.round(span)} s` : `${Math.round(span / 60)} min`}:
        replicas (max {maxReplicas}), p50 ms (max {maxLatency.toFixed(1)})
      </text>
    </svg>
  );
}
