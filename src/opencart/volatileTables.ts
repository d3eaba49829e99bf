/**
 * Tables whose rows OpenCart rebuilds by itself: logged-in sessions, API sessions and the
 * "who is online" report. `--skip-volatile` saves their definitions without their rows; a
 * staging clone empties them.
 *
 * Guest carts (`cart` rows with customer_id = 0) are volatile too, but the cart table also
 * holds logged-in customers' saved carts, and the dumper saves a table whole or schema-only
 * (it cannot filter rows), so a backup keeps the whole cart table. A clone deletes the guest
 * rows (their sessions are gone with the session table).
 */
export const VOLATILE_TABLES = ['session', 'api_session', 'customer_online'] as const;

export function volatileTableNames(prefix: string): string[] {
  return VOLATILE_TABLES.map((t) => prefix + t);
}
