// Where a route of a server given by its base URL lives (compare --endpoint, bench against endpoints).

/**
 * `path` (e.g. /v1/models) on the server at `baseUrl`, keeping a path prefix such as a proxy's
 * (http://host/proxy -> http://host/proxy/v1/models); a base ending in /v1, as OpenAI clients write it, counts once.
 */
export function endpointUrl(baseUrl: string, path: string): URL {
  const url = new URL(baseUrl)
  url.pathname = url.pathname.replace(/\/+$/, '').replace(/\/v1$/, '') + path
  url.search = ''
  url.hash = ''
  return url
}
