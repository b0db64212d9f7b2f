/**
 * Charts drawn by uPlot (a small, fast canvas library made for live time
 * series): lines and steps over time or steps, and bars. Colours come from
 * Lab's CSS variables, read when a chart is drawn, so every theme works.
 */
import * as React from 'react';
import uPlot from 'uplot';

/** One series: a name and its points as [x, y]. */
export interface ISeries {
  label: string;
  points: [number, number][];
  /** Draw as steps (a count that holds until it changes, e.g. replicas). */
  stepped?: boolean;
}

const PALETTE = [
  '--jp-brand-color1',
  '--jp-warn-color1',
  '--jp-success-color1',
  '--jp-error-color1',
  '--jp-accent-color1'
];

function cssColor(name: string, fallback: string): string {
  const value = getComputedStyle(document.body).getPropertyValue(name).trim();
  return value || fallback;
}

/** The width of an element, followed as it resizes. */
function useWidth(ref: React.RefObject<HTMLElement>): number {
  const [width, setWidth] = React.useState(0);
  React.useLayoutEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    setWidth(node.clientWidth);
    const observer = new ResizeObserver(() => setWidth(node.clientWidth));
    observer.observe(node);
    return () => observer.disconnect();
  }, []);
  return width;
}

/** x values of every series merged, and each series' y at them (null where it has none). */
export function align(series: ISeries[]): uPlot.AlignedData {
  const xs = Array.from(
    new Set(series.flatMap(s => s.points.map(p => p[0])))
  ).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const columns = series.map(s => {
    const ys: (number | null)[] = xs.map(() => null);
    s.points.forEach(([x, y]) => {
      ys[index.get(x)!] = y;
    });
    return ys;
  });
  return [xs, ...columns] as uPlot.AlignedData;
}

function axes(time: boolean): uPlot.Axis[] {
  const stroke = cssColor('--jp-ui-font-color2', '#666');
  const grid = { stroke: cssColor('--jp-border-color2', '#ddd'), width: 1 };
  const font = `10px ${cssColor('--jp-ui-font-family', 'sans-serif')}`;
  return [
    { stroke, grid, font, ticks: grid, ...(time ? {} : { space: 30 }) },
    { stroke, grid, font, ticks: grid, size: 40 }
  ];
}

/** A line chart of one or more series over time (`time`) or over steps. */
export function LineChart(props: {
  title: string;
  series: ISeries[];
  time?: boolean;
  height?: number;
  /** The x axis' range (else from the data). */
  xRange?: [number, number];
}): JSX.Element {
  const box = React.useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  const time = props.time !== false;
  const [low, high] = props.xRange || [null, null];
  const points = props.series.reduce((n, s) => n + s.points.length, 0);
  React.useEffect(() => {
    const node = box.current;
    if (!node || width === 0 || points === 0) {
      return;
    }
    const plot = new uPlot(
      {
        width,
        height: props.height || 160,
        scales: {
          x:
            low !== null && high !== null
              ? { time, range: [low, high] }
              : { time }
        },
        axes: axes(time),
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        series: [
          {},
          ...props.series.map((s, i) => ({
            label: s.label,
            stroke: cssColor(PALETTE[i % PALETTE.length], '#1976d2'),
            width: 2,
            spanGaps: true,
            points: { show: s.points.length < 60 },
            ...(s.stepped ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {})
          }))
        ]
      },
      align(props.series),
      node
    );
    return () => plot.destroy();
  }, [width, props.series, time, props.height, low, high]);
  return (
    <div
      className="jsml-chart"
      ref={box}
      role="img"
      aria-label={`${props.title}: ${props.series
        .map(s => `${s.label}, ${s.points.length} points`)
        .join('; ')}`}
      data-points={points}
    >
      {points === 0 && <p className="jsml-empty">{props.title}: no data yet</p>}
    </div>
  );
}

/** Bars, one per labelled value (costs by day or by resource). */
export function BarChart(props: {
  title: string;
  items: { label: string; value: number }[];
  format: (v: number) => string;
  height?: number;
}): JSX.Element {
  const box = React.useRef<HTMLDivElement>(null);
  const width = useWidth(box);
  const { items } = props;
  React.useEffect(() => {
    const node = box.current;
    if (!node || width === 0 || items.length === 0) {
      return;
    }
    const colour = cssColor('--jp-brand-color1', '#1976d2');
    const [xAxis, yAxis] = axes(false);
    const plot = new uPlot(
      {
        width,
        height: props.height || 160,
        scales: { x: { time: false, range: [-0.5, items.length - 0.5] } },
        axes: [
          {
            ...xAxis,
            values: (_u, splits) =>
              splits.map(i =>
                Number.isInteger(i) && items[i] ? items[i].label : ''
              )
          },
          { ...yAxis, values: (_u, splits) => splits.map(props.format) }
        ],
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        series: [
          {},
          {
            label: props.title,
            fill: colour,
            stroke: colour,
            paths: uPlot.paths.bars!({ size: [0.6, 40] }),
            points: { show: false }
          }
        ]
      },
      [items.map((_, i) => i), items.map(i => i.value)],
      node
    );
    return () => plot.destroy();
  }, [width, items, props.height]);
  return (
    <div
      className="jsml-chart"
      ref={box}
      role="img"
      aria-label={`${props.title}: ${items
        .map(i => `${i.label} ${props.format(i.value)}`)
        .join(', ')}`}
      data-points={items.length}
    >
      {items.length === 0 && <p className="jsml-empty">{props.title}: none</p>}
    </div>
  );
}
