/**
 * @module sql-tables
 * A room's tables are created by its first write, not when the object
 * starts: a room that was only joined (or only read) keeps no storage. The
 * stores ask here whether their table exists yet.
 */

/** True when the room's SQLite has a table of that name. */
export function tableExists(sql: SqlStorage, name: string): boolean {
  return (
    sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray()
      .length > 0
  );
}

/** True when the room has any table of its own (not SQLite's or the runtime's). */
export function hasTables(sql: SqlStorage): boolean {
  return (
    sql
      .exec(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_cf\\_%' ESCAPE '\\' LIMIT 1",
      )
      .toArray().length > 0
  );
}
