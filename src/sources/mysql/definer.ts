/**
 * `CREATE ... DEFINER=`u`@`h` ...` without its DEFINER clause, so the object is created
 * as the current user (needed when restoring as a user without SET USER / SUPER).
 */
export function stripDefiner(createStatement: string): string {
  return createStatement.replace(/^(\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?)DEFINER\s*=\s*(?:CURRENT_USER(?:\(\))?|(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|[\w$.-]+)(?:\s*@\s*(?:`(?:[^`]|``)*`|'(?:[^'\\]|\\.)*'|[\w$.%:-]+))?)\s+/i, '$1');
}
