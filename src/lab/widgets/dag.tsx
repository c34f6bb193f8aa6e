/**
 * The step graph picture: laid out for the width the sidebar gives it (model/layout.ts: parallel steps on one row,
 * shrunk to fit; only a graph too wide to read shrunk wraps ranks onto more rows), drawn in SVG; zoom (−, fit, +,
 * Ctrl+wheel) and pan (drag, or the scroll bars) for the rest. "data" labels each edge with the names it carries (a
 * wrapped graph: in the edge's tooltip). Nodes carry the step's colour and, during a run, its state;
 * hover shows inputs/outputs; click goes to the step (a failed one: where it raised). A composed notebook's steps
 * from one referenced notebook sit in a box named after it; a click on the box's name opens that notebook.
 */
import React, { useEffect, useMemo, useRef, useState } from 'react';
import type { StepGraph } from '../../core/model.js';
import type { StepState } from '../../runs/types.js';
import { stepColor } from '../model/cells.js';
import { stateClass } from '../model/runs.js';
import { edgeData, layoutGraph, NODE_H } from '../model/layout.js';

const ZOOMS = [0.5, 0.67, 0.8, 1, 1.25, 1.5, 2];

/** The width of an element (given by a callback ref), followed as the sidebar is resized. */
function useWidth(el: HTMLElement | null): number {
  const [width, setWidth] = useState(0);
  useEffect(() => {
    if (!el) return;
    setWidth(el.clientWidth);
    const observer = new ResizeObserver(() => setWidth(el.clientWidth));
    observer.observe(el);
    return () => observer.disconnect();
  }, [el]);
  return width;
}

export function DagView(props: {
  graph: StepGraph;
  states: Record<string, StepState>;
  onSelect: (step: string) => void;
  color?: (step: string) => string;
  /** Opens a referenced notebook (its path relative to this notebook's folder). */
  onOpenNotebook?: (notebook: string) => void;
}) {
  const [scroller, setScroller] = useState<HTMLDivElement | null>(null);
  const width = useWidth(scroller);
  const [labels, setLabels] = useState(false);
  const [zoom, setZoom] = useState<number | 'fit'>('fit');
  // Laid out for the width at zoom 1; when zoomed, for the width the zoom leaves (so "+" makes it taller, not cut).
  const avail = width > 0 ? Math.max(120, Math.floor(width / (zoom === 'fit' ? 1 : zoom)) - 2) : undefined;
  const layout = useMemo(() => layoutGraph(props.graph, { maxWidth: avail, labels }), [props.graph, avail, labels]);
  const steps = new Map(props.graph.steps.map((s) => [s.name, s]));
  const color = props.color ?? stepColor;
  const drag = useRef<{ x: number; y: number; left: number; top: number; moved: boolean } | null>(null);
  const scale = zoom === 'fit' ? (avail && layout.width > avail ? avail / layout.width : 1) : zoom;
  const current = zoom === 'fit' ? scale : zoom;
  const step = (dir: 1 | -1) => {
    const next = dir > 0 ? ZOOMS.find((z) => z > current + 0.01) : [...ZOOMS].reverse().find((z) => z < current - 0.01);
    if (next !== undefined) setZoom(next);
  };
  return (
    <div className="cp-dag-view">
      <div className="cp-dag-tools">
        <label title="label each arrow with the variables it passes">
          <input type="checkbox" name="dag-data-names" checked={labels} onChange={(e) => setLabels(e.target.checked)} /> data
        </label>
        <span className="cp-dag-zoom">
          <button className="cp-dag-zoom-out" title="zoom out (Ctrl+wheel)" onClick={() => step(-1)}>−</button>
          <button className="cp-dag-zoom-fit" title="fit to the sidebar's width" aria-pressed={zoom === 'fit'} onClick={() => setZoom('fit')}>
            {Math.round(current * 100)}%
          </button>
          <button className="cp-dag-zoom-in" title="zoom in (Ctrl+wheel)" onClick={() => step(1)}>+</button>
        </span>
      </div>
      {layout.nodes.length ? null : <div className="cp-empty">No steps yet: tag a cell with a step name.</div>}
      {labels && layout.wrapped ? <div className="cp-dag-note">too wide for labels here: hover an arrow for its data, or zoom out</div> : null}
      <div className="cp-dag-scroll" ref={setScroller}
        onWheel={(e) => {
          if (!e.ctrlKey) return;
          e.preventDefault();
          step(e.deltaY < 0 ? 1 : -1);
        }}
        onPointerDown={(e) => {
          const el = scroller;
          if (!el || e.button !== 0) return;
          drag.current = { x: e.clientX, y: e.clientY, left: el.scrollLeft, top: el.scrollTop, moved: false };
        }}
        onPointerMove={(e) => {
          const d = drag.current;
          const el = scroller;
          if (!d || !el) return;
          if (Math.abs(e.clientX - d.x) + Math.abs(e.clientY - d.y) > 4) d.moved = true;
          el.scrollLeft = d.left - (e.clientX - d.x);
          el.scrollTop = d.top - (e.clientY - d.y);
        }}
        onPointerUp={() => setTimeout(() => (drag.current = null))}
        onPointerLeave={() => (drag.current = null)}>
        {layout.nodes.length ? <svg className="cp-dag" width={Math.ceil(layout.width * scale)} height={Math.ceil(layout.height * scale)} viewBox={`0 0 ${layout.width} ${layout.height}`}
          role="img" aria-label="pipeline step graph" data-wrapped={layout.wrapped ? 'true' : 'false'}>
          <defs>
            <marker id="cp-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" className="cp-dag-arrow" />
            </marker>
          </defs>
          {layout.boxes.map((b) => (
            <g key={`box ${b.unit}`} className="cp-dag-unit" data-unit={b.unit} data-notebook={b.notebook}
              onClick={() => !drag.current?.moved && props.onOpenNotebook?.(b.notebook)}>
              <title>{`the steps of ${b.notebook} (notebook:${b.unit})\nclick: open ${b.notebook}`}</title>
              <rect x={b.x} y={b.y} width={b.w} height={b.h} rx={8} />
              <text x={b.x + 8} y={b.y + 3.5} className="cp-dag-unit-name">{b.unit}</text>
            </g>
          ))}
          {layout.edges.map((e) => {
            const data = edgeData(props.graph, e.from, e.to);
            return (
              <path key={`${e.from}->${e.to}`} className="cp-dag-edge" markerEnd="url(#cp-arrow)" data-edge={`${e.from}->${e.to}`}
                d={e.points.map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ')}>
                <title>{`${e.from} → ${e.to}${data.length ? `: ${data.join(', ')}` : ' (order only)'}`}</title>
              </path>
            );
          })}
          {layout.edges.map((e) =>
            e.label ? (
              <text key={`label ${e.from}->${e.to}`} className="cp-dag-edge-label" x={e.label.x} y={e.label.y} textAnchor="start">
                {e.label.text}
              </text>
            ) : null,
          )}
          {layout.nodes.map((n) => {
            const s = steps.get(n.name);
            const state = props.states[n.name];
            const tip = [`step ${n.name}`, s?.inputs.length ? `inputs: ${s.inputs.join(', ')}` : 'no inputs', s?.outputs.length ? `outputs: ${s.outputs.join(', ')}` : 'no outputs', state ? `state: ${state}` : '', state === 'failed' ? 'click: go to the cell and line that raised' : 'click: go to its first cell']
              .filter(Boolean).join('\n');
            return (
              <g key={n.name} className={`cp-dag-node ${stateClass(state)}`} data-step={n.name} data-state={state ?? ''} transform={`translate(${n.x - n.w / 2}, ${n.y - NODE_H / 2})`}
                onClick={() => !drag.current?.moved && props.onSelect(n.name)} style={{ ['--cp-step-color' as string]: color(n.name) }}>
                <title>{tip}</title>
                <rect width={n.w} height={NODE_H} rx={6} />
                <text x={n.w / 2} y={NODE_H / 2 + 4} textAnchor="middle">{n.name}</text>
              </g>
            );
          })}
        </svg> : null}
      </div>
    </div>
  );
}
