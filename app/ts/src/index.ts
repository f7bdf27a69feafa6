// @microliq/sdk: the public surface. Each module is re-exported here as it lands.
export {};
