// The one place that hides credentials (`user:secret@`) in URL-like
// repository locations before they reach a message, a log or the catalog.

/** Hides credentials (`user:secret@`) in URL-like locations. */
export function redactLocation(location: string): string {
  return location.replace(/\/\/[^@/]*@/, '//***@');
}
