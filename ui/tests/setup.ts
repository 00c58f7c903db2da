// jsdom lacks layout: ResizeObserver (Svelte's bind:clientHeight) never reports a size here,
// so the Events list keeps its initial height. The real layout is exercised in the desktop
// end-to-end test.
class NoLayoutResizeObserver {
  observe() {}
  unobserve() {}
  disconnect() {}
}
globalThis.ResizeObserver ??= NoLayoutResizeObserver as unknown as typeof ResizeObserver;
