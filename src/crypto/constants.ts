/** Sizes of Laminar's scheme (XChaCha20-Poly1305 IETF), in bytes. No imports: cheap to load. */
export const KEY_BYTES = 32;
export const NONCE_BYTES = 24;
export const TAG_BYTES = 16;
