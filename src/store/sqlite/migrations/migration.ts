/** The shape of one numbered schema migration (SQL kept in TypeScript so the build ships it). */
export interface Migration {
  /** 1, 2, 3...: applied in order, each once, recorded in schema_migrations. */
  version: number;
  /** kebab-case name, e.g. 'brokkr-model'. */
  name: string;
  /** The whole migration as one SQL script, run in one transaction. */
  sql: string;
}
