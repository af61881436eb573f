// The canvas's mini map: the same picture and controls as React Flow's <MiniMap pannable
// zoomable> (the same elements, classes and so the same style sheet; panning and zooming by
// React Flow's own XYMinimap), with two store subscriptions instead of one per node.
//
// Why: React Flow's mini map subscribes every node's rectangle to the store, so a 300-node flow
// ran 300 more selectors on every store update, i.e. twice a frame while a drag pans the view at
// the canvas's edge. Here one selector takes the view and the bounds (as <MiniMap> does), and
// one the node list, which changes when a node moves (once a frame of a drag) but not on a pan;
// the rectangles are memoized, so a move re-renders one of them. Measured in the bench's drag:
// ~5% less main-thread time than with <MiniMap> (bench/README.md, 2026-12-04, evening).
import { Panel, useStore, useStoreApi, type ReactFlowState } from '@xyflow/react';
import { getBoundsOfRects, getInternalNodesBounds, XYMinimap, type Rect } from '@xyflow/system';
import { memo, useEffect, useRef } from 'react';
import { cn } from '@/lib/cn';

const WIDTH = 200;
const HEIGHT = 150;
/** Margin around the content, in mini-map pixels (<MiniMap>'s offsetScale). */
const OFFSET_SCALE = 5;
const BORDER_RADIUS = 5;
const SHAPE_RENDERING = typeof window === 'undefined' || 'chrome' in window ? 'crispEdges' : 'geometricPrecision';

const selectView = (s: ReactFlowState) => {
  const [tx, ty, zoom] = s.transform;
  const viewBB = { x: -tx / zoom, y: -ty / zoom, width: s.width / zoom, height: s.height / zoom };
  return {
    viewBB,
    boundingRect: s.nodeLookup.size > 0 ? getBoundsOfRects(getInternalNodesBounds(s.nodeLookup), viewBB) : viewBB,
    rfId: s.rfId,
    panZoom: s.panZoom,
    translateExtent: s.translateExtent,
    flowWidth: s.width,
    flowHeight: s.height,
  };
};
type View = ReturnType<typeof selectView>;
const sameRect = (a: Rect, b: Rect) => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;
const sameView = (a: View, b: View) =>
  sameRect(a.viewBB, b.viewBB) &&
  sameRect(a.boundingRect, b.boundingRect) &&
  a.rfId === b.rfId &&
  a.panZoom === b.panZoom &&
  a.translateExtent === b.translateExtent &&
  a.flowWidth === b.flowWidth &&
  a.flowHeight === b.flowHeight;

const selectNodes = (s: ReactFlowState) => s.nodes;

const MiniNode = memo(function MiniNode({ x, y, width, height, selected }: { x: number; y: number; width: number; height: number; selected: boolean }) {
  return (
    <rect
      className={cn('react-flow__minimap-node', selected && 'selected')}
      x={x}
      y={y}
      rx={BORDER_RADIUS}
      ry={BORDER_RADIUS}
      width={width}
      height={height}
      shapeRendering={SHAPE_RENDERING}
    />
  );
});

/** The node rectangles; re-rendered when a node moves, not when the view pans. */
const MiniNodes = memo(function MiniNodes() {
  useStore(selectNodes);
  const lookup = useStoreApi().getState().nodeLookup;
  const rects = [];
  for (const n of lookup.values()) {
    const width = n.measured.width ?? n.width ?? n.initialWidth;
    const height = n.measured.height ?? n.height ?? n.initialHeight;
    if (n.hidden || !width || !height) continue;
    const { x, y } = n.internals.positionAbsolute;
    rects.push(<MiniNode key={n.id} x={x} y={y} width={width} height={height} selected={!!n.selected} />);
  }
  return rects;
});

export function FlowMiniMap({ ariaLabel }: { ariaLabel: string }) {
  const store = useStoreApi();
  const svg = useRef<SVGSVGElement>(null);
  const { boundingRect, viewBB, rfId, panZoom, translateExtent, flowWidth, flowHeight } = useStore(selectView, sameView);
  // <MiniMap>'s geometry: the content and the view, centred, with a margin.
  const viewScale = Math.max(boundingRect.width / WIDTH, boundingRect.height / HEIGHT);
  const viewWidth = viewScale * WIDTH;
  const viewHeight = viewScale * HEIGHT;
  const offset = OFFSET_SCALE * viewScale;
  const x = boundingRect.x - (viewWidth - boundingRect.width) / 2 - offset;
  const y = boundingRect.y - (viewHeight - boundingRect.height) / 2 - offset;
  const width = viewWidth + offset * 2;
  const height = viewHeight + offset * 2;
  const labelId = `react-flow__minimap-desc-${rfId}`;
  const viewScaleRef = useRef(0);
  viewScaleRef.current = viewScale;
  const minimap = useRef<ReturnType<typeof XYMinimap> | null>(null);

  useEffect(() => {
    if (!svg.current || !panZoom) return;
    minimap.current = XYMinimap({
      domNode: svg.current,
      panZoom,
      getTransform: () => store.getState().transform,
      getViewScale: () => viewScaleRef.current,
    });
    return () => {
      minimap.current?.destroy();
      minimap.current = null;
    };
  }, [panZoom, store]);

  useEffect(() => {
    minimap.current?.update({ translateExtent, width: flowWidth, height: flowHeight, pannable: true, zoomable: true, zoomStep: 1 });
  }, [panZoom, translateExtent, flowWidth, flowHeight]);

  return (
    <Panel position="bottom-right" className="react-flow__minimap" data-testid="rf__minimap">
      <svg width={WIDTH} height={HEIGHT} viewBox={`${x} ${y} ${width} ${height}`} className="react-flow__minimap-svg" role="img" aria-labelledby={labelId} ref={svg}>
        <title id={labelId}>{ariaLabel}</title>
        <MiniNodes />
        <path
          className="react-flow__minimap-mask"
          d={`M${x - offset},${y - offset}h${width + offset * 2}v${height + offset * 2}h${-width - offset * 2}z
        M${viewBB.x},${viewBB.y}h${viewBB.width}v${viewBB.height}h${-viewBB.width}z`}
          fillRule="evenodd"
          pointerEvents="none"
        />
      </svg>
    </Panel>
  );
}
