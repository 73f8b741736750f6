// The same tiny job as a raw piscina task file.
export default (n) => n + 1;
