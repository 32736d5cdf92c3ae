// Hand-written declarations of Preact's hooks (see preact.d.mts).
import type { Context } from './preact.mjs';
export type StateUpdater<S> = (value: S | ((prev: S) => S)) => void;
export function useState<S>(initial: S | (() => S)): [S, StateUpdater<S>];
export function useReducer<S, A>(reducer: (state: S, action: A) => S, initial: S): [S, (action: A) => void];
export function useEffect(effect: () => void | (() => void), deps?: readonly unknown[]): void;
export function useLayoutEffect(effect: () => void | (() => void), deps?: readonly unknown[]): void;
export function useRef<T>(initial: T): { current: T };
export function useMemo<T>(factory: () => T, deps: readonly unknown[]): T;
export function useCallback<T extends (...args: never[]) => unknown>(callback: T, deps: readonly unknown[]): T;
export function useContext<T>(context: Context<T>): T;
export function useId(): string;
