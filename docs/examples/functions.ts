// functions.ts: the job functions, one module for every backend
import { defineFunctions } from 'gearshift/functions';

export default defineFunctions({
  async salesReport(input: { dbPath: string }, job) {
    job.status(1, 2); // progress (Gearman's WORK_STATUS)
    const total = await sumSales(input.dbPath);
    return { total }; // the result; a throw is a failure
  },
  sendPush(input: { userIds: number[] }) {
    return { sent: input.userIds.length };
  },
  // Raw bytes in and out, for callers that do not speak JSON.
  thumbnail: { bytes: (image) => image.subarray(0, 16) },
});

async function sumSales(dbPath: string): Promise<number> {
  return dbPath.length * 1000; // a query over the shop's database, in a real module
}
