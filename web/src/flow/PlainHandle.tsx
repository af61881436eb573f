// A connection handle for the canvas's low-detail nodes (below DETAIL_ZOOM, e.g. the fitted
// view of a 300-node flow): the element React Flow's <Handle> renders (the same classes and
// data attributes, so React Flow measures it, draws edges to it and ends connections on it)
// with the same pointer and click handlers, but without a store subscription of its own.
//
// Why: every <Handle> subscribes to React Flow's store to learn whether a connection is being
// drawn from it. A 300-node flow has ~750 handles, so every store update (every frame of a
// node drag, twice a frame while the view pans at the canvas's edge) ran ~750 selectors for a
// state that changes only when a connection starts or ends. Here the canvas subscribes once
// (`selectConnectingFrom`) and hands the answer down by context; what it drives is React Flow's
// `connectionindicator` / `connectingfrom` classes, i.e. which handles take the pointer while a
// connection is drawn (React Flow's style sheet gives them `pointer-events: all`). The other
// state classes of <Handle> (`connectingto`, `valid`, `clickconnecting`) are not set here:
// neither React Flow's style sheet nor ours styles them.
import { Position, useNodeId, useStoreApi, type Connection, type ReactFlowState } from '@xyflow/react';
import { XYHandle } from '@xyflow/system';
import { createContext, useContext, type CSSProperties, type MouseEvent, type TouchEvent } from 'react';
import { cn } from '@/lib/cn';

/** The handle a connection is being drawn from, as `nodeId/handleId/type`, or null. */
export const selectConnectingFrom = (s: ReactFlowState) => {
  const h = s.connection.fromHandle;
  return h ? `${h.nodeId}/${h.id ?? ''}/${h.type}` : null;
};

/** `selectConnectingFrom`, provided by the canvas; null (no connection) without a provider. */
export const ConnectingFromContext = createContext<string | null>(null);

interface Props {
  type: 'source' | 'target';
  position: Position;
  id?: string;
  className?: string;
  style?: CSSProperties;
  title?: string;
}

export function PlainHandle({ type, position, id, className, style, title }: Props) {
  const nodeId = useNodeId();
  const store = useStoreApi();
  const connectingFrom = useContext(ConnectingFromContext);
  const handleId = id ?? null;
  const isTarget = type === 'target';
  const { rfId, noPanClassName } = store.getState();
  // As <Handle> (strict connection mode, the default): while a connection is drawn, handles of
  // the type it started from stop taking the pointer, except the one it started from.
  const fromType = connectingFrom?.slice(connectingFrom.lastIndexOf('/') + 1);
  const isFrom = connectingFrom === `${nodeId}/${handleId ?? ''}/${type}`;

  const onConnect = (params: Connection) => {
    const { defaultEdgeOptions, onConnect: onConnectAction } = store.getState();
    onConnectAction?.({ ...defaultEdgeOptions, ...params });
  };

  const onPointerDown = (event: MouseEvent | TouchEvent) => {
    if (!nodeId) return;
    const native = event.nativeEvent;
    if ('clientX' in native && native.button !== 0) return;
    const s = store.getState();
    XYHandle.onPointerDown(native, {
      handleDomNode: event.currentTarget as Element,
      autoPanOnConnect: s.autoPanOnConnect,
      connectionMode: s.connectionMode,
      connectionRadius: s.connectionRadius,
      domNode: s.domNode,
      nodeLookup: s.nodeLookup,
      lib: s.lib,
      isTarget,
      handleId,
      nodeId,
      flowId: s.rfId,
      panBy: s.panBy,
      cancelConnection: s.cancelConnection,
      onConnectStart: s.onConnectStart,
      onConnectEnd: (...args) => store.getState().onConnectEnd?.(...args),
      updateConnection: s.updateConnection,
      onConnect,
      isValidConnection: (...args) => store.getState().isValidConnection?.(...args) ?? true,
      getTransform: () => store.getState().transform,
      getFromHandle: () => store.getState().connection.fromHandle,
      autoPanSpeed: s.autoPanSpeed,
      dragThreshold: s.connectionDragThreshold,
    });
  };

  // Click one handle, then another: <Handle>'s click-to-connect (`connectOnClick`). The canvas
  // sets no onClickConnectStart/End, so they are not called.
  const onClick = (event: MouseEvent) => {
    const s = store.getState();
    if (!nodeId || !s.connectOnClick) return;
    const start = s.connectionClickStartHandle;
    if (!start) {
      store.setState({ connectionClickStartHandle: { nodeId, type, id: handleId } });
      return;
    }
    const { connection, isValid } = XYHandle.isValid(event.nativeEvent, {
      handle: { nodeId, id: handleId, type },
      connectionMode: s.connectionMode,
      fromNodeId: start.nodeId,
      fromHandleId: start.id ?? null,
      fromType: start.type,
      isValidConnection: s.isValidConnection,
      flowId: s.rfId,
      doc: document,
      lib: s.lib,
      nodeLookup: s.nodeLookup,
    });
    if (isValid && connection) onConnect(connection);
    store.setState({ connectionClickStartHandle: null });
  };

  return (
    <div
      data-handleid={handleId}
      data-nodeid={nodeId}
      data-handlepos={position}
      data-id={`${rfId}-${nodeId}-${handleId}-${type}`}
      className={cn(
        'react-flow__handle',
        `react-flow__handle-${position}`,
        'nodrag',
        noPanClassName,
        className,
        isTarget ? 'target' : 'source',
        'connectable connectablestart connectableend',
        isFrom && 'connectingfrom',
        (!fromType || fromType !== type) && 'connectionindicator',
      )}
      style={style}
      title={title}
      onMouseDown={onPointerDown}
      onTouchStart={onPointerDown}
      onClick={onClick}
    />
  );
}
