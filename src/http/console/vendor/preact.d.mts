// Hand-written declarations of the part of Preact that the console uses, for
// `tsc --checkJs` (Preact's own .d.ts files are not vendored). Not touched by
// update.sh.
export interface VNode {
  type: unknown;
  props: Record<string, unknown>;
  key?: unknown;
}
export type ComponentChild = VNode | string | number | bigint | boolean | null | undefined;
export type ComponentChildren = ComponentChild | ComponentChildren[];
export function h(type: unknown, props: Record<string, unknown> | null, ...children: unknown[]): VNode;
export function render(vnode: ComponentChildren, parent: Element | DocumentFragment): void;
export const Fragment: unknown;
export interface Context<T> {
  Provider: unknown;
  Consumer: unknown;
  readonly __default?: T;
}
export function createContext<T>(value: T): Context<T>;
