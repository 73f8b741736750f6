// The functions module of a cold gearshift process: plain JavaScript, as a compiled app has it.
import { defineFunctions } from '../../dist/index.js';

export default defineFunctions({ inc: (n) => n + 1 });
