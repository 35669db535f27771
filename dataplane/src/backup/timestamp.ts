/** Go's time.RFC3339 in UTC, as Longhorn stamps cfg files: seconds, no fraction, 'Z'. */
export function rfc3339(date: Date = new Date()): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
