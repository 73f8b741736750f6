/** A TypeScript functions module as an app writes it, for the "who loads TypeScript" measurement. */
import { defineFunctions } from 'gearshift/functions';
import { type Sale, total } from './lib.js';

export default defineFunctions({ total: (input: { sales: Sale[] }) => total(input.sales) });
