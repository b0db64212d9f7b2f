/**
 * A pipeline's graph as plain SVG: steps laid out by levels (a step sits one
 * level below its deepest upstream step), top to bottom, ordered within a level
 * by their parents' places; each step a box with its name and status (the
 * status' colour on the border and a strip, the text on the theme's background
 * so it reads in every theme), each edge a curve (dashed for a condition's branch). No layout library: pipelines are
 * small, and the bundle stays small.
 */
import * as React from 'react';

import { activate } from './common';

export interface IDagStep {
  name: string;
  kind: string;
  status?: string | null;
  upstream?: string[];
  job_id?: string | null;
  cache_hit?: boolean;
}

export interface IDagEdge {
  from: string;
  to: string;
  kind?: string;
  branch?: boolean;
}

export interface IPlaced {
  step: IDagStep;
  level: number;
  x: number;
  y: number;
}

export const NODE_W = 112;
export const NODE_H = 34;
const GAP_X = 12;
const GAP_Y = 22;
const PAD = 2;

/** The edges: those given, else each step's `upstream`. */
export function edgesOf(steps: IDagStep[], edges?: IDagEdge[]): IDagEdge[] {
  if (edges && edges.length) {
    return edges;
  }
  return steps.flatMap(s =>
    (s.upstream || []).map(u => ({ from: u, to: s.name }))
  );
}

/** Each step's place: its level (longest path from a root) and its box's corner. */
export function layout(
  steps: IDagStep[],
  edges: IDagEdge[]
): { placed: Map<string, IPlaced>; width: number; height: number } {
  const parents = new Map<string, string[]>(steps.map(s => [s.name, []]));
  for (const e of edges) {
    if (parents.has(e.to) && parents.has(e.from)) {
      parents.get(e.to)!.push(e.from);
    }
  }
  const level = new Map<string, number>();
  const visiting = new Set<string>();
  const levelOf = (name: string): number => {
    const known = level.get(name);
    if (known !== undefined) {
      return known;
    }
    if (visiting.has(name)) {
      return 0; // a cycle (never from a valid pipeline): break it
    }
    visiting.add(name);
    const ps = parents.get(name) || [];
    const found = ps.length ? 1 + Math.max(...ps.map(levelOf)) : 0;
    level.set(name, found);
    return found;
  };
  const rows: IDagStep[][] = [];
  for (const step of steps) {
    const l = levelOf(step.name);
    (rows[l] = rows[l] || []).push(step);
  }
  const placed = new Map<string, IPlaced>();
  const widest = Math.max(1, ...rows.map(r => (r ? r.length : 0)));
  const width = widest * NODE_W + (widest - 1) * GAP_X + 2 * PAD;
  rows.forEach((row, l) => {
    if (!row) {
      return;
    }
    // order by the mean place of the parents (fewer crossings), declaration order on ties
    const centre = (s: IDagStep) => {
      const xs = (parents.get(s.name) || [])
        .map(p => placed.get(p)?.x)
        .filter((x): x is number => x !== undefined);
      return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
    };
    const ordered = row
      .map((s, i) => ({ s, i, c: centre(s) }))
      .sort((a, b) => a.c - b.c || a.i - b.i)
      .map(o => o.s);
    const span = ordered.length * NODE_W + (ordered.length - 1) * GAP_X;
    const left = (width - span) / 2;
    ordered.forEach((step, i) => {
      placed.set(step.name, {
        step,
        level: l,
        x: left + i * (NODE_W + GAP_X),
        y: PAD + l * (NODE_H + GAP_Y)
      });
    });
  });
  const height = rows.length * NODE_H + (rows.length - 1) * GAP_Y + 2 * PAD;
  return { placed, width, height: Math.max(height, NODE_H) };
}

/** A name cut to what fits a box (the full name is in the title). */
function fit(text: string, chars: number): string {
  return text.length <= chars ? text : `${text.slice(0, chars - 1)}…`;
}

/** The graph of a pipeline (or of one run, with each step's status). */
export function PipelineGraph(props: {
  label: string;
  steps: IDagStep[];
  edges?: IDagEdge[];
  /** Open a step (its job's page) when it ran a job. */
  onOpen?: (step: IDagStep) => void;
}): JSX.Element {
  const edges = React.useMemo(
    () => edgesOf(props.steps, props.edges),
    [props.steps, props.edges]
  );
  const { placed, width, height } = React.useMemo(
    () => layout(props.steps, edges),
    [props.steps, edges]
  );
  return (
    <svg
      className="jsml-dag"
      role="group"
      aria-label={props.label}
      viewBox={`0 0 ${width} ${height}`}
      width="100%"
      style={{ maxWidth: `${width}px` }}
    >
      {edges.map(e => {
        const a = placed.get(e.from);
        const b = placed.get(e.to);
        if (!a || !b) {
          return null;
        }
        const x1 = a.x + NODE_W / 2;
        const y1 = a.y + NODE_H;
        const x2 = b.x + NODE_W / 2;
        const y2 = b.y;
        const mid = (y1 + y2) / 2;
        const cls = `jsml-dag-edge jsml-dag-edge-${e.kind || 'data'}${
          e.branch === false ? ' jsml-dag-edge-otherwise' : ''
        }`;
        return (
          <g key={`${e.from}->${e.to}`} className={cls}>
            <path
              d={`M${x1},${y1} C${x1},${mid} ${x2},${mid} ${x2},${y2 - 4}`}
            />
            <path
              className="jsml-dag-arrow"
              d={`M${x2 - 3},${y2 - 5} L${x2 + 3},${y2 - 5} L${x2},${y2} Z`}
            />
          </g>
        );
      })}
      {Array.from(placed.values()).map(({ step, x, y }) => {
        const status = step.status || 'none';
        const open =
          props.onOpen && step.job_id ? () => props.onOpen!(step) : null;
        return (
          <g
            key={step.name}
            className={`jsml-dag-node jsml-dag-${status.toLowerCase()}`}
            data-step={step.name}
            data-status={status}
            transform={`translate(${x},${y})`}
            tabIndex={0}
            role={open ? 'button' : 'img'}
            aria-label={`step ${step.name} (${step.kind}): ${status}${
              step.cache_hit ? ', from the cache' : ''
            }`}
            {...(open ? activate(open) : {})}
          >
            <title>
              {`${step.name} (${step.kind}): ${status}${step.cache_hit ? ' (cache hit)' : ''}`}
            </title>
            <rect
              className="jsml-dag-box"
              width={NODE_W}
              height={NODE_H}
              rx={4}
            />
            <rect className="jsml-dag-mark" width={5} height={NODE_H} rx={2} />
            <text x={10} y={14} className="jsml-dag-name">
              {fit(step.name, 16)}
            </text>
            <text x={10} y={27} className="jsml-dag-status">
              {fit(
                `${step.status || step.kind}${step.cache_hit ? ' · cached' : ''}`,
                19
              )}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
