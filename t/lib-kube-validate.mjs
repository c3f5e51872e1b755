// Checks Kubernetes manifests (a YAML stream on stdin) against the
// Kubernetes API's schema, as two npm packages generate it from the API's
// OpenAPI document (installed by ci/install-deps.sh test):
//
//  - every field of every object must be one the API defines for its type,
//    with a value of that type (@kubernetes/client-node's per-type field
//    maps): a misspelt or misplaced field fails;
//  - required fields, enumerations and formats (kubernetes-models, whose
//    validators are compiled from the same schema).
//
// What this cannot see: the API server's own rules beyond the schema
// (name lengths, label syntax, "restartPolicy must be Never with
// backoffLimitPerIndex", quantities' syntax, ...): t6620 checks those of
// them that pach relies on by itself.
//
// usage: node lib-kube-validate.mjs <schema dir>   (exit 1: what is wrong)
const dir = process.argv[2];
// Only the generated models: the package's index loads an HTTP client too.
const k8s = await import(dir + "/node_modules/@kubernetes/client-node/dist/gen/models/all.js");
const yaml = (await import(dir + "/node_modules/js-yaml/index.js")).default;

// apiVersion + kind -> the client's type name and the models' validator.
const kinds = {
	"batch/v1 Job": ["V1Job", "batch/v1/Job.js", "Job"],
	"v1 Secret": ["V1Secret", "v1/Secret.js", "Secret"],
};

function walk(v, type, at, errs) {
	if (v === null || v === undefined) return;
	let m;
	if ((m = /^Array<(.+)>$/.exec(type))) {
		if (!Array.isArray(v)) errs.push(`${at}: expected a list (${type})`);
		else v.forEach((x, i) => walk(x, m[1], `${at}[${i}]`, errs));
		return;
	}
	if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
		if (typeof v !== "object" || Array.isArray(v)) errs.push(`${at}: expected a map (${type})`);
		else for (const [k, x] of Object.entries(v)) walk(x, m[1], `${at}.${k}`, errs);
		return;
	}
	const prim = { string: "string", number: "number", boolean: "boolean", Date: "string" }[type];
	if (prim) {
		if (typeof v !== prim) errs.push(`${at}: expected a ${type}, not ${JSON.stringify(v)}`);
		return;
	}
	if (type === "any" || type === "object") return;
	if (type === "IntOrString") {
		if (typeof v !== "string" && typeof v !== "number") errs.push(`${at}: expected an int or a string`);
		return;
	}
	const cls = k8s[type];
	if (!cls || typeof cls.getAttributeTypeMap !== "function") {
		errs.push(`${at}: no such type ${type} in the schema`);
		return;
	}
	if (typeof v !== "object" || Array.isArray(v)) {
		errs.push(`${at}: expected an object (${type})`);
		return;
	}
	const fields = new Map(cls.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
	for (const [k, x] of Object.entries(v)) {
		if (!fields.has(k)) errs.push(`${at}.${k}: ${type} has no field '${k}'`);
		else walk(x, fields.get(k), `${at}.${k}`, errs);
	}
}

let text = "";
for await (const chunk of process.stdin) text += chunk;
const docs = yaml.loadAll(text).filter((d) => d !== null);
let bad = 0;
if (docs.length === 0) {
	console.log("no manifests");
	bad++;
}
for (const [i, d] of docs.entries()) {
	const id = `manifest ${i + 1} (${d && d.kind}${d && d.metadata ? " " + d.metadata.name : ""})`;
	const k = d && kinds[`${d.apiVersion} ${d.kind}`];
	if (!k) {
		console.log(`${id}: not a kind this check knows (${d && d.apiVersion} ${d && d.kind})`);
		bad++;
		continue;
	}
	const errs = [];
	walk(d, k[0], "", errs);
	const mod = await import(`${dir}/node_modules/kubernetes-models/${k[1]}`);
	try {
		new mod[k[2]](d).validate();
	} catch (e) {
		errs.push(e.message);
	}
	for (const e of errs) console.log(`${id}: ${e}`);
	if (errs.length) bad++;
	else console.log(`${id}: valid`);
}
process.exit(bad ? 1 : 0);
