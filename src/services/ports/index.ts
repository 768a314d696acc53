// The service layer's ports, one file each; this index only gathers them.
export * from './alias-store.js';
export * from './clock.js';
export * from './database.js';
export * from './deletion-store.js';
export * from './identity.js';
export * from './import-store.js';
export * from './iv-store.js';
export * from './key-store.js';
export * from './key-vault.js';
export * from './key-version-check-store.js';
export * from './multi-region-store.js';
export * from './paging.js';
export * from './rotation-store.js';
export * from './tag-store.js';
