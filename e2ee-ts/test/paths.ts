/** ../client-sdk/tests/vectors/e2ee.json, found from the compiled file (dist/test/). */
export const VECTORS_URL = new URL("../../../client-sdk/tests/vectors/e2ee.json", import.meta.url);
