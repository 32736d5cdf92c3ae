/**
 * Subscribes to `observable` (Apollo's, or anything with
 * subscribe({ next, error, complete })) and resolves with every result seen
 * once `done(data)` holds; rejects on a GraphQL error, a transport error, an
 * early completion, or after `ms` milliseconds.
 */
export function until(observable, done, ms = 30_000) {
  return new Promise((resolve, reject) => {
    const seen = [];
    let sub = null;
    let settled = false;
    const finish = (fn, value) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      queueMicrotask(() => sub?.unsubscribe());
      fn(value);
    };
    const timer = setTimeout(
      () => finish(reject, new Error(`no final event within ${ms} ms; saw ${JSON.stringify(seen)}`)),
      ms,
    );
    sub = observable.subscribe({
      next: (result) => {
        if (result.errors?.length) return finish(reject, new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`));
        seen.push(result.data);
        if (done(result.data)) finish(resolve, seen);
      },
      error: (err) => finish(reject, err),
      complete: () => finish(reject, new Error(`completed early; saw ${JSON.stringify(seen)}`)),
    });
    if (settled) sub.unsubscribe();
  });
}

/** Fetches `url` and returns { status, contentType, bytes }. */
export async function download(url) {
  const res = await fetch(url);
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    bytes: Buffer.from(await res.arrayBuffer()),
  };
}
