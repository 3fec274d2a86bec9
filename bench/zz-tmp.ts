import { execFileSync } from 'node:child_process';
import { Decompress } from 'fzstd';
import { readFileSync } from 'node:fs';
const json = readFileSync('/tmp/map10k.json');
const z = new Uint8Array(execFileSync('zstd',['-1','-q','-c','--no-check'],{input:json, maxBuffer:1<<30}));
for (let k=0;k<4;k++){ const t=performance.now(); let n=0, calls=0; const d=new Decompress((c)=>{n+=c.length; calls++}); for(let o=0;o<z.length;o+=16384) d.push(z.subarray(o,o+16384), o+16384>=z.length); console.log('stream', (performance.now()-t).toFixed(1), n, calls);}
