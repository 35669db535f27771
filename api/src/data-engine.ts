/** Longhorn's data engines. longhorn-ts implements v1 only; v2 is accepted so Longhorn YAML applies. */
export const DATA_ENGINES = ['v1', 'v2'] as const;
export type DataEngine = (typeof DATA_ENGINES)[number];
