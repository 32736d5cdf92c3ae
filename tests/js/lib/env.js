// What run.sh hands the tests.
export const BASE_URL = need('BASE_URL').replace(/\/+$/, '');
export const USERNAME = need('USERNAME');
export const PASSWORD = need('PASSWORD');
export const ARTIFACT_DIR = process.env.ARTIFACT_DIR || new URL('../../../target/playwright', import.meta.url).pathname;
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the suite with tests/js/run.sh`);
  return v;
}

/** Logs in with a plain JSON POST (what a test needs before its real work). */
export async function login(username = USERNAME, password = PASSWORD) {
  const res = await fetch(`${BASE_URL}/graphql`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      query: 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { token } }',
      variables: { u: username, p: password },
    }),
  });
  const body = await res.json();
  if (!body.data?.login?.token) throw new Error(`login failed: ${JSON.stringify(body)}`);
  return body.data.login.token;
}
