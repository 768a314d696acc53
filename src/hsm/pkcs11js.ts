import { createRequire } from 'node:module';
import type * as P11 from 'pkcs11js';

// pkcs11js is CommonJS and defines its constants at run time, so an ES namespace
// import sees none of them (CKF_OS_LOCKING_OK would be undefined). Load it as CommonJS.
const require = createRequire(import.meta.url);
export const pkcs11js = require('pkcs11js') as typeof P11;
