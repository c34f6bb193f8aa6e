/**
 * The step graph picture: dagre lays it out (top to bottom), SVG draws it. Nodes carry the step's colour and,
 * during a run, its state; hover shows inputs/outputs; click goes to the step's first cell.
 */
import React, { useMemo } from 'react';
import type { StepGraph } from '../../core/model.js';
import type { StepState } from '../../runtimes/types.js';
import { stepColor } from '../model/cells.js';
import { stateClass } from '../model/runs.js';
import { layoutGraph, NODE_H } from '../model/layout.js';


export function DagView(props: { graph: StepGraph; states: Record<string, StepState>; onSelect: (step: string) => void }) {
  const layout = useMemo(() => layoutGraph(props.graph), [props.graph]);
  const steps = new Map(props.graph.steps.map((s) => [s.name, s]));
  if (!layout.nodes.length) return <div className="cp-empty">No steps yet: tag a cell with a step name.</div>;
  return (
    <svg className="cp-dag" width={layout.width} height={layout.height} viewBox={`0 0 ${layout.width} ${layout.height}`} role="img" aria-label="pipeline step graph">
      <defs>
        <marker id="cp-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" className="cp-dag-arrow" />
        </marker>
      </defs>
      {layout.edges.map((e) => (
        <path key={`${e.from}->${e.to}`} className="cp-dag-edge" markerEnd="url(#cp-arrow)"
          d={e.points.map((p, i) => `${i ? 'L' : 'M'} ${p.x.toFixed(1)} ${p.y.toFixed(1)}`).join(' ')} />
      ))}
      {layout.nodes.map((n) => {
        const s = steps.get(n.name);
        const state = props.states[n.name];
        const tip = [`step ${n.name}`, s?.inputs.length ? `inputs: ${s.inputs.join(', ')}` : 'no inputs', s?.outputs.length ? `outputs: ${s.outputs.join(', ')}` : 'no outputs', state ? `state: ${state}` : '']
          .filter(Boolean).join('\n');
        return (
          <g key={n.name} className={`cp-dag-node ${stateClass(state)}`} data-step={n.name} data-state={state ?? ''} transform={`translate(${n.x - n.w / 2}, ${n.y - NODE_H / 2})`}
            onClick={() => props.onSelect(n.name)} style={{ ['--cp-step-color' as string]: stepColor(n.name) }}>
            <title>{tip}</title>
            <rect width={n.w} height={NODE_H} rx={6} />
            <text x={n.w / 2} y={NODE_H / 2 + 4} textAnchor="middle">{n.name}</text>
          </g>
        );
      })}
    </svg>
  );
}
