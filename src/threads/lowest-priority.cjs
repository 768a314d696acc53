'use strict';
// Run by each background thread as it starts: the lowest scheduling priority for
// this thread alone (Linux keeps a nice value per thread; setpriority(2) on the
// calling thread). Where that cannot be done, the thread runs at normal priority.
module.exports = function lowestPriority() {
  try {
    require('node:os').setPriority(0, 19);
  } catch {
    // Not permitted or not supported here: nothing else changes.
  }
};
