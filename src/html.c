/*
 * html.c - the self-contained HTML page of a report; see html.h.
 *
 * Two halves.  C picks the chart data out of the report into one small
 * JSON object (html_data: a few hundred numbers per chart, whatever the
 * report's size) and decides, per chart, whether the report holds data for
 * it; when not, the chart carries the reason instead ("absent").  A fixed
 * script (html_script) then draws each chart as inline SVG from that
 * object, counts the marks it drew (elements of class "mark") into the
 * figure's data-marks, and sets <body data-selfcheck="ok"> when every chart
 * with data drew at least one mark ("fail" otherwise).  No external file,
 * font or network access: the page works offline and from a mail.
 *
 * The embedded JSON sits in <script type="application/json">; "</" is
 * written as "<\/" so no string from a trace can close the element.  Every
 * label reaches the page through textContent, never as markup.
 *
 * Histogram buckets follow locks.h's log-linear layout (values below 32 one
 * bucket each; above, each power of two split into 32): the script maps a
 * bucket to its lower bound with the same formula.
 */
#include "html.h"

#include "outfile.h"
#include "report.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int html_oom(struct avm_err *err)
{
	return avm_errf(err, "html: out of memory");
}

/* data.absent.<chart> = reason */
static int html_absent(cJSON *data, const char *chart, const char *why)
{
	cJSON *a = cJSON_GetObjectItemCaseSensitive(data, "absent");

	return a && cJSON_AddStringToObject(a, chart, why) ? 0 : -1;
}

/* Live objects over time: one line per design, anon_vma + anon_vma_chain + vm_area_struct. */
static int html_series(cJSON *data, const cJSON *models, bool fleet)
{
	cJSON *arr = cJSON_AddArrayToObject(data, "series");
	const cJSON *m;

	if (!arr)
		return -1;
	cJSON_ArrayForEach(m, models) {
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(m, "series");
		const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "t_ns");
		int n = cJSON_GetArraySize(t);
		cJSON *o, *ts, *ys;

		if (!cJSON_IsArray(t) || n == 0)
			continue;
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "model", m->string) ||
		    !(ts = cJSON_AddArrayToObject(o, "t")) || !(ys = cJSON_AddArrayToObject(o, "objects")))
			return -1;
		for (int i = 0; i < n; i++) {
			static const char *const kinds[] = { "anon_vma", "anon_vma_chain",
							     "vm_area_struct" };
			const cJSON *tv = cJSON_GetArrayItem(t, i);
			double y = 0;

			for (int k = 0; k < 3; k++) {
				const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(s, kinds[k]), i);

				y += cJSON_IsNumber(v) ? v->valuedouble : 0;
			}
			if (!cJSON_AddItemToArray(ts, cJSON_CreateNumber(cJSON_IsNumber(tv) ? tv->valuedouble / 1e9 : 0)) ||
			    !cJSON_AddItemToArray(ys, cJSON_CreateNumber(y)))
				return -1;
		}
	}
	if (cJSON_GetArraySize(arr) == 0)
		return html_absent(data, "series", fleet ? "a fleet report has no time series: each host's runs on its own clock, so they are not merged"
						      : "the report has no models.<m>.series (replayed without a time series)");
	return 0;
}

/* Fork-cost distribution: models.<m>.fork_cost.total buckets. */
static int html_fork(cJSON *data, const cJSON *models)
{
	cJSON *arr = cJSON_AddArrayToObject(data, "fork");
	const cJSON *m;

	if (!arr)
		return -1;
	cJSON_ArrayForEach(m, models) {
		const cJSON *b = report_path(m, "fork_cost.total.buckets");
		cJSON *o;

		if (!cJSON_GetArraySize(b))
			continue;
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "model", m->string) ||
		    !cJSON_AddItemToObject(o, "buckets", cJSON_Duplicate(b, 1)))
			return -1;
	}
	if (cJSON_GetArraySize(arr) == 0)
		return html_absent(data, "fork", "no fork copied an address space in this trace, or no arch model (no models.<m>.fork_cost)");
	return 0;
}

/* Lock waits per class: sum over modes of wait.total_ns. */
static int html_locks(cJSON *data, const cJSON *models)
{
	cJSON *l = cJSON_AddObjectToObject(data, "locks"), *classes, *per;
	const cJSON *m, *c, *mode;

	if (!l || !(classes = cJSON_AddArrayToObject(l, "classes")) ||
	    !(per = cJSON_AddArrayToObject(l, "models")))
		return -1;
	cJSON_ArrayForEach(m, models) {
		cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(m, "locks")) {
			bool have = false;
			const cJSON *k;

			cJSON_ArrayForEach(k, classes)
				have |= !strcmp(k->valuestring, c->string);
			if (!have && !cJSON_AddItemToArray(classes, cJSON_CreateString(c->string)))
				return -1;
		}
	}
	cJSON_ArrayForEach(m, models) {
		const cJSON *locks = cJSON_GetObjectItemCaseSensitive(m, "locks"), *k;
		cJSON *o, *w;

		if (!locks)
			continue;
		o = cJSON_CreateObject();
		if (!o || !cJSON_AddItemToArray(per, o) || !cJSON_AddStringToObject(o, "model", m->string) ||
		    !(w = cJSON_AddArrayToObject(o, "wait_ns")))
			return -1;
		cJSON_ArrayForEach(k, classes) {
			double ns = 0;

			c = cJSON_GetObjectItemCaseSensitive(locks, k->valuestring);
			cJSON_ArrayForEach(mode, c)
				ns += report_number(cJSON_GetObjectItemCaseSensitive(mode, "wait"), "total_ns");
			if (!cJSON_AddItemToArray(w, cJSON_CreateNumber(ns)))
				return -1;
		}
	}
	if (cJSON_GetArraySize(classes) == 0)
		return html_absent(data, "locks", "no arch model: no models.<m>.locks");
	return 0;
}

/* The processes that save most: "pid N comm (host)" and the saving in bytes. */
static int html_top(cJSON *data, const cJSON *root)
{
	cJSON *arr = cJSON_AddArrayToObject(data, "top");
	const cJSON *p;

	if (!arr)
		return -1;
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(root, "top_processes")) {
		const char *comm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "comm"));
		const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(p, "host"));
		char label[160];
		cJSON *o = cJSON_CreateObject();

		snprintf(label, sizeof(label), "pid %.0f%s%s%s%s%s", report_number(p, "pid"),
			 comm ? " " : "", comm ? comm : "", host ? " (" : "", host ? host : "",
			 host ? ")" : "");
		if (!o || !cJSON_AddItemToArray(arr, o) || !cJSON_AddStringToObject(o, "label", label) ||
		    !cJSON_AddNumberToObject(o, "saving", report_number(p, "saving_bytes")))
			return -1;
	}
	if (cJSON_GetArraySize(arr) == 0)
		return html_absent(data, "top", "no top_processes (eager and lazy did not both run)");
	return 0;
}

static int html_sensitivity(cJSON *data, const cJSON *root, bool fleet)
{
	const cJSON *c = report_path(root, "verdict.sensitivity.constants"), *k;
	cJSON *arr = cJSON_AddArrayToObject(data, "sensitivity");

	if (!arr)
		return -1;
	cJSON_ArrayForEach(k, c) {
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o) ||
		    !cJSON_AddStringToObject(o, "key", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "key")) ?
						      cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(k, "key")) : "?") ||
		    !cJSON_AddNumberToObject(o, "value", report_number(k, "value")) ||
		    !cJSON_AddNumberToObject(o, "low", report_number(k, "low")) ||
		    !cJSON_AddNumberToObject(o, "high", report_number(k, "high")) ||
		    !cJSON_AddBoolToObject(o, "flips", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "flips"))))
			return -1;
	}
	if (cJSON_GetArraySize(arr) == 0)
		return html_absent(data, "sensitivity", fleet ? "a fleet verdict is not re-judged under the cost ranges (each host's report has its own)"
							   : "no sensitivity in this report (no verdict, an undecided one, or --no-sensitivity)");
	return 0;
}

static int html_spread(cJSON *data, const cJSON *root, bool fleet)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "savings_distribution");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(d, "histogram");

	if (!fleet)
		return html_absent(data, "spread", "one host: merge several reports for the spread across hosts");
	if (!cJSON_GetArraySize(h))
		return html_absent(data, "spread", "no host has a saving (savings_distribution is empty, or a fleet report older than /3)");
	return cJSON_AddItemToObject(data, "spread", cJSON_Duplicate(d, 1)) ? 0 : -1;
}

static const char html_head[] =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	"<title>anonvma report</title>\n<style>\n"
	"body{font:14px/1.4 sans-serif;margin:1.5em auto;max-width:1000px;color:#222}\n"
	"h1{font-size:1.4em}figure{margin:1.5em 0;padding:.5em 1em;border:1px solid #ddd}\n"
	"figcaption{font-weight:bold;margin-bottom:.4em}.why{color:#777;font-style:italic}\n"
	"svg text{font:11px sans-serif}.legend span{margin-right:1em}\n"
	"</style></head>\n<body>\n<h1 id=\"title\"></h1>\n<p id=\"verdict\"></p>\n"
	"<figure id=\"series\"><figcaption>Live objects over time per design "
	"(anon_vma + anon_vma_chain + vm_area_struct)</figcaption></figure>\n"
	"<figure id=\"fork\"><figcaption>Fork cost distribution (whole fork, per design)"
	"</figcaption></figure>\n"
	"<figure id=\"locks\"><figcaption>Lock waits per class (simulated, total)</figcaption>"
	"</figure>\n"
	"<figure id=\"top\"><figcaption>Processes that save most (eager - lazy at their peak)"
	"</figcaption></figure>\n"
	"<figure id=\"sensitivity\"><figcaption>Verdict sensitivity: each cost constant's range "
	"(red: moving it within its range flips the verdict)</figcaption></figure>\n"
	"<figure id=\"spread\"><figcaption>Spread of the saving at the peak across hosts"
	"</figcaption></figure>\n"
	"<script type=\"application/json\" id=\"data\">";

static const char html_script[] =
	"</script>\n<script>\n"
	"'use strict';\n"
	"const D=JSON.parse(document.getElementById('data').textContent);\n"
	"const NS='http://www.w3.org/2000/svg';\n"
	"const COL=['#1f77b4','#d62728','#2ca02c','#9467bd','#ff7f0e','#8c564b'];\n"
	"function el(n,a,p){const e=document.createElementNS(NS,n);for(const k in a)e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e;}\n"
	"function txt(p,x,y,s,anchor){const t=el('text',{x:x,y:y,'text-anchor':anchor||'start'},p);t.textContent=s;return t;}\n"
	"function svg(id,h){const s=el('svg',{width:960,height:h,viewBox:'0 0 960 '+h});document.getElementById(id).appendChild(s);return s;}\n"
	"function fmt(v){const a=Math.abs(v);if(a>=1e9)return (v/1e9).toFixed(1)+'G';if(a>=1e6)return (v/1e6).toFixed(1)+'M';if(a>=1e3)return (v/1e3).toFixed(1)+'k';return String(Math.round(v*10)/10);}\n"
	"function legend(id,names){const d=document.createElement('div');d.className='legend';names.forEach((n,i)=>{const s=document.createElement('span');s.style.color=COL[i%COL.length];s.textContent='\\u25a0 '+n;d.appendChild(s);});document.getElementById(id).appendChild(d);}\n"
	"function axes(s,x0,y0,w,h,ymax,unit){el('line',{x1:x0,y1:y0,x2:x0+w,y2:y0,stroke:'#888'},s);el('line',{x1:x0,y1:y0,x2:x0,y2:y0-h,stroke:'#888'},s);txt(s,x0-4,y0-h+4,fmt(ymax)+(unit||''),'end');txt(s,x0-4,y0,'0','end');}\n"
	"function bucketLo(i){if(i<32)return i;const e=Math.floor((i-32)/32)+5,sub=(i-32)%32;return (32+sub)*Math.pow(2,e-5);}\n"
	"const draw={\n"
	"series(){const s=svg('series',260),x0=60,y0=230,w=880,h=210;let tmax=0,ymax=0;D.series.forEach(m=>{m.t.forEach(v=>tmax=Math.max(tmax,v));m.objects.forEach(v=>ymax=Math.max(ymax,v));});tmax=tmax||1;ymax=ymax||1;axes(s,x0,y0,w,h,ymax);txt(s,x0+w,y0+16,tmax.toFixed(2)+' s','end');\n"
	" D.series.forEach((m,i)=>{const pts=m.t.map((t,j)=>(x0+t/tmax*w).toFixed(1)+','+(y0-m.objects[j]/ymax*h).toFixed(1)).join(' ');el('polyline',{points:pts,fill:'none',stroke:COL[i%COL.length],'stroke-width':1.5,class:'mark'},s);});legend('series',D.series.map(m=>m.model));},\n"
	"fork(){const s=svg('fork',260),x0=60,y0=230,w=880,h=210;let lo=Infinity,hi=0,cmax=0;D.fork.forEach(m=>m.buckets.forEach(b=>{const v=bucketLo(b[0]);lo=Math.min(lo,v);hi=Math.max(hi,v);cmax=Math.max(cmax,b[1]);}));lo=Math.max(1,lo);const L=Math.log10(lo),R=Math.max(Math.log10(hi*1.05),L+1);axes(s,x0,y0,w,h,cmax,' forks');txt(s,x0,y0+16,fmt(lo)+' ns');txt(s,x0+w,y0+16,fmt(hi)+' ns','end');\n"
	" const bw=Math.max(3,Math.floor(w/120/D.fork.length));D.fork.forEach((m,i)=>m.buckets.forEach(b=>{const x=x0+(Math.log10(Math.max(1,bucketLo(b[0])))-L)/(R-L)*w+i*bw,bh=b[1]/cmax*h;el('rect',{x:x.toFixed(1),y:(y0-bh).toFixed(1),width:bw,height:bh.toFixed(1),fill:COL[i%COL.length],class:'mark'},s);}));legend('fork',D.fork.map(m=>m.model));},\n"
	"locks(){const c=D.locks.classes,M=D.locks.models,s=svg('locks',40+28*c.length*Math.max(1,M.length)),x0=160,w=700;let vmax=0;M.forEach(m=>m.wait_ns.forEach(v=>vmax=Math.max(vmax,v)));let y=20;\n"
	" c.forEach((k,ci)=>{txt(s,x0-6,y+12,k,'end');M.forEach((m,mi)=>{const v=m.wait_ns[ci],bw=vmax>0?v/vmax*w:0;el('rect',{x:x0,y:y,width:Math.max(1,bw).toFixed(1),height:20,fill:COL[mi%COL.length],class:'mark'},s);txt(s,x0+Math.max(1,bw)+4,y+14,fmt(v)+' ns');y+=24;});y+=4;});legend('locks',M.map(m=>m.model));},\n"
	"top(){const T=D.top,s=svg('top',20+24*T.length),x0=300,w=560;let vmax=0;T.forEach(p=>vmax=Math.max(vmax,Math.abs(p.saving)));vmax=vmax||1;T.forEach((p,i)=>{const y=10+24*i,bw=Math.abs(p.saving)/vmax*w;txt(s,x0-6,y+14,p.label,'end');el('rect',{x:x0,y:y,width:Math.max(1,bw).toFixed(1),height:18,fill:p.saving<0?'#d62728':'#2ca02c',class:'mark'},s);txt(s,x0+Math.max(1,bw)+4,y+14,fmt(p.saving)+' B');});},\n"
	"sensitivity(){const K=D.sensitivity,s=svg('sensitivity',30+22*K.length),x0=300,w=560,mid=x0+w/2;let r=1;K.forEach(k=>{if(k.value>0&&k.low>0)r=Math.max(r,Math.abs(Math.log2(k.low/k.value)));if(k.value>0&&k.high>0)r=Math.max(r,Math.abs(Math.log2(k.high/k.value)));});\n"
	" el('line',{x1:mid,y1:5,x2:mid,y2:25+22*K.length,stroke:'#888'},s);K.forEach((k,i)=>{const y=12+22*i,f=v=>mid+(k.value>0&&v>0?Math.log2(v/k.value)/r:0)*w/2,a=f(k.low),b=f(k.high);txt(s,x0-6,y+12,k.key,'end');el('rect',{x:Math.min(a,b).toFixed(1),y:y,width:Math.max(2,Math.abs(b-a)).toFixed(1),height:16,fill:k.flips?'#d62728':'#9ecae1',class:'mark'},s);txt(s,Math.max(a,b)+4,y+12,fmt(k.low)+'..'+fmt(k.high)+(k.flips?' flips':''));});},\n"
	"spread(){const d=D.spread,s=svg('spread',260),x0=60,y0=230,w=880,h=210,bins={};d.histogram.forEach(b=>{const p=b[0]===0?-101:(b[0]>2000?101:-100+(b[0]-1)*d.bin_percent);const k=Math.floor(p);bins[k]=(bins[k]||0)+b[1];});const ks=Object.keys(bins).map(Number).sort((a,b)=>a-b);\n"
	" const lo=ks[0],hi=ks[ks.length-1]+1,span=Math.max(1,hi-lo);let cmax=0;ks.forEach(k=>cmax=Math.max(cmax,bins[k]));axes(s,x0,y0,w,h,cmax,' hosts');txt(s,x0,y0+16,lo+' %');txt(s,x0+w,y0+16,hi+' %','end');const bw=Math.max(2,w/span-1);ks.forEach(k=>{const bh=bins[k]/cmax*h;el('rect',{x:(x0+(k-lo)/span*w).toFixed(1),y:(y0-bh).toFixed(1),width:bw.toFixed(1),height:bh.toFixed(1),fill:'#1f77b4',class:'mark'},s);});\n"
	" const p=document.createElement('p');p.textContent=d.hosts+' hosts: min '+d.min.toFixed(1)+' %, median '+d.p50.toFixed(1)+' %, mean '+d.mean.toFixed(1)+' %, max '+d.max.toFixed(1)+' %';document.getElementById('spread').appendChild(p);}\n"
	"};\n"
	"document.getElementById('title').textContent=D.title;document.getElementById('verdict').textContent=D.verdict;\n"
	"let drawn=0,absent=0,bad=0;\n"
	"for(const id in draw){const f=document.getElementById(id);if(D.absent[id]!==undefined){const p=document.createElement('p');p.className='why';p.textContent='Not in this report: '+D.absent[id];f.appendChild(p);f.dataset.state='absent';f.dataset.marks='0';absent++;continue;}\n"
	" try{draw[id]();}catch(e){const p=document.createElement('p');p.className='why';p.textContent='Drawing failed: '+e;f.appendChild(p);}\n"
	" const n=f.querySelectorAll('.mark').length;f.dataset.marks=String(n);f.dataset.state=n>0?'drawn':'empty';if(n>0)drawn++;else bad++;}\n"
	"document.body.dataset.chartsDrawn=String(drawn);document.body.dataset.chartsAbsent=String(absent);document.body.dataset.selfcheck=bad===0&&drawn>0?'ok':'fail';\n"
	"</script>\n</body></html>\n";

/* The chart data of a report or fleet report. */
static cJSON *html_data(const cJSON *root, struct avm_err *err)
{
	const char *schema = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "schema"));
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(root, "models");
	const cJSON *pays = report_path(root, "verdict.lazy_pays_off");
	const cJSON *tr = cJSON_GetObjectItemCaseSensitive(root, "trace");
	bool fleet = schema && !strncmp(schema, "anonvma-fleet/", 14);
	const char *host = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tr, "hostname"));
	const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(tr, "file"));
	cJSON *d = cJSON_CreateObject();
	char title[512];

	if (fleet)
		snprintf(title, sizeof(title), "anonvma fleet: %.0f hosts, %.0f events",
			 report_number(root, "hosts"), report_number(tr, "events"));
	else
		snprintf(title, sizeof(title), "anonvma report: %s%s%s, %.0f events", file ? file : "?",
			 host ? " on " : "", host ? host : "", report_number(tr, "events"));
	if (!d || !cJSON_AddObjectToObject(d, "absent") || !cJSON_AddStringToObject(d, "title", title) ||
	    !cJSON_AddStringToObject(d, "verdict", cJSON_IsTrue(pays) ? "Verdict: lazy pays off" :
				     cJSON_IsFalse(pays) ? "Verdict: lazy does not pay off" :
				     cJSON_IsNull(pays) ? "Verdict: undecided (the trace cannot support an answer)" :
				     "No verdict (eager and lazy did not both run)") ||
	    html_series(d, models, fleet) || html_fork(d, models) || html_locks(d, models) ||
	    html_top(d, root) || html_sensitivity(d, root, fleet) || html_spread(d, root, fleet)) {
		cJSON_Delete(d);
		html_oom(err);
		return NULL;
	}
	return d;
}

int html_write(const cJSON *report, const char *path, struct avm_err *err)
{
	cJSON *data = html_data(report, err);
	char *json = NULL, *page = NULL;
	size_t len = 0;
	FILE *mem = NULL;
	int ret = -1;

	if (!data)
		return -1;
	json = cJSON_PrintUnformatted(data);
	mem = open_memstream(&page, &len);
	if (!json || !mem) {
		html_oom(err);
		goto out;
	}
	fputs(html_head, mem);
	for (const char *p = json; *p; p++) {
		/* "</" would end the script element early; "<\/" is the same JSON string */
		if (p[0] == '<' && p[1] == '/')
			fputs("<\\", mem);
		else
			fputc(*p, mem);
	}
	fputs(html_script, mem);
	if (fclose(mem)) {
		mem = NULL;
		html_oom(err);
		goto out;
	}
	mem = NULL;
	ret = outfile_write(path, page, len, err);
out:
	if (mem)
		fclose(mem);
	free(page);
	cJSON_free(json);
	cJSON_Delete(data);
	return ret;
}
