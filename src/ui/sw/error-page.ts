// The small HTML page the worker answers with when it cannot show what a frame asked for.

export function errorPage(status: number, message: string): Response {
  const esc = String(message).replace(
    /[&<>"]/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!,
  );
  return new Response(
    `<!doctype html><meta charset="utf-8"><title>tailtab web view</title><p>tailtab web view: ${esc}</p>\n`,
    {
      status,
      headers: { 'content-type': 'text/html; charset=utf-8' },
    },
  );
}
