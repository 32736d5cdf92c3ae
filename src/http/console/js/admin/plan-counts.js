// The number of users on each plan (`Plan.userCount`), asked on its own so
// that the plans page works on a server without that field: then there is
// no count, and the page says where to see who holds a plan instead.
import { gql } from '../api.js';
import { useEffect, useState } from '../ui.js';

const COUNTS = 'query PlanCounts { plans { id userCount } }';

/**
 * Plan id -> number of users, or null while unknown or unsupported; asked
 * again whenever `tick` changes.
 * @param {number} tick
 * @returns {Map<string, number> | null}
 */
export function usePlanUserCounts(tick) {
  const [counts, setCounts] = useState(/** @type {Map<string, number> | null} */ (null));
  useEffect(() => {
    gql(COUNTS).then(
      (d) => setCounts(new Map(d.plans.map((/** @type {{ id: string, userCount: number }} */ p) => [p.id, p.userCount]))),
      () => {},
    );
  }, [tick]);
  return counts;
}
