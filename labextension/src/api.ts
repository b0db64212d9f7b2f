/**
 * One typed service over the sidebar's REST API (`<base_url>/serverless-ml/api/`).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** An error answered by the API: its HTTP status and message. */
export class APIError extends Error {
  constructor(
    public readonly status: number,
    message: string
  ) {
    super(message);
  }
}

/** Call the API; JSON in and out; errors become APIError with the server's message. */
export async function requestAPI<T>(
  endPoint = '',
  init: RequestInit = {}
): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'serverless-ml', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new APIError(0, `the Jupyter server did not answer: ${error}`);
  }
  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
  }
  if (!response.ok) {
    const message =
      (data && typeof data === 'object' && data.message) ||
      `${response.status} ${response.statusText}`;
    throw new APIError(response.status, message);
  }
  return data as T;
}

export interface IPlatform {
  running: boolean;
  home: string;
  version: string;
  url?: string;
  active_jobs?: number;
}

/** One configured backend; `error` when it failed to load (then it has no features). */
export interface IBackend {
  name: string;
  features: string[];
  default: boolean;
  error: string | null;
}

/** Status names by kind, as the server defines them (never retyped here). */
export interface IStatuses {
  job: string[];
  job_terminal: string[];
  job_active: string[];
  endpoint: string[];
  batch: string[];
  batch_terminal: string[];
  /** Every feature name a backend may have. */
  feature: string[];
  [kind: string]: string[];
}

/** `GET backends`: the configured backends, the union of their features, the statuses. */
export interface IBackends {
  backends: IBackend[];
  features: string[];
  statuses: IStatuses;
}

/** `GET jobs/<id>/logs`: new log text and the cursor to ask for what follows. */
export interface ILogChunk {
  text: string;
  cursor: string;
  status: string;
}

export interface ICost {
  sagemaker: number;
  vertex: number;
  local: number;
  instance_hours: number;
  /** What each resource's own backend bills (a cloud's list price; local: 0). */
  billed?: number;
}

export interface IJob {
  id: string;
  name: string;
  backend: string;
  status: string;
  created_at: number;
  started_at?: number;
  ended_at?: number;
  failure_reason?: string;
  metrics: Record<string, number>;
  spec: { hyperparameters?: Record<string, unknown>; instance_type?: string };
  cost?: ICost;
  events?: { ts: number; status: string; message: string }[];
  bundle_manifest?: { hash: string; captured?: Record<string, any>[] } | null;
  model_version?: number;
}

export interface IJobsPage {
  jobs: IJob[];
  offset: number;
  limit: number;
  has_more: boolean;
}

export interface IVariant {
  name: string;
  model: string;
  traffic: number;
  replicas: number;
  starting: number;
  min_replicas: number;
  max_replicas: number;
  /** On a multi-model endpoint, the models it serves (`fleet:* (20 models)`). */
  model_set?: string | null;
  /** The process that loaded the model once and forks replicas (null: none). */
  template?: IProcessMemory | null;
  /** Each replica's memory (`template`: forked from the template). */
  replica_memory?: (IProcessMemory & { id: string; template?: boolean })[];
}

/** A process' memory, bytes (null where the process is gone or the kernel does not say). */
export interface IProcessMemory {
  pid: number;
  pss_bytes: number | null;
  rss_bytes: number | null;
  load_ms?: number;
}

/** One model of a multi-model endpoint (`multi_model.models["name:version"]`). */
export interface IModelStats {
  requests: number;
  errors: number;
  client_errors?: number;
  p50_ms: number | null;
  p95_ms: number | null;
  loads: number;
  evictions: number;
  load_failures?: number;
  last_load_ms?: number | null;
  last_error?: string | null;
  /** Replicas that hold it loaded now (0: evicted or not loaded). */
  loaded_in_replicas: number;
}

export interface IStats {
  requests: number;
  errors: number;
  error_rate: number;
  p50_ms: number | null;
  p95_ms: number | null;
  requests_last_minute: number;
}

export interface IEvent {
  ts: number;
  kind: string;
  variant?: string;
  value?: number | null;
  message: string;
}

export interface IEndpoint {
  name: string;
  backend: string;
  status: string;
  traffic: Record<string, number>;
  variants: IVariant[];
  replicas: number;
  min_replicas: number;
  max_replicas: number;
  stats: IStats;
  cold_starts: number;
  cold_start_ms?: number[];
  invocation_url?: string;
  curl?: string;
  history?: IEvent[];
  /** Variants keep a template (`--keep-warm`) so a replica starts by a fork. */
  keep_warm?: boolean | null;
  /** PSS of the endpoint's processes; the templates' part is what it holds at zero replicas. */
  memory?: {
    templates_pss_bytes: number;
    replicas_pss_bytes: number;
    total_pss_bytes: number;
  } | null;
  /** A multi-model endpoint's models, one entry per model requested so far. */
  multi_model?: {
    source?: string;
    cache_bytes?: number | null;
    models: Record<string, IModelStats>;
  } | null;
}

export interface IModel {
  name: string;
  version: number;
  flavor: string;
  stage: string;
  /** PendingManualApproval, Approved or Rejected. */
  approval?: string;
  promoted_at?: number | null;
  backend?: string;
  job_id?: string;
  metrics: Record<string, number>;
  metadata: { class?: string };
  endpoints: { endpoint: string; variant: string; traffic: number }[];
}

export interface ICosts {
  currency: string;
  note: string;
  total: ICost;
  by_day: (ICost & { day: string })[];
  by_resource: (ICost & { kind: string })[];
  /** Resources a `--max-cost` budget stopped. */
  budgets_hit?: IBudgetHit[];
}

/** A ledger item a `--max-cost` stopped (`budgets_hit` of `GET costs`). */
export interface IBudgetHit extends ICost {
  kind: string;
  resource: string;
  name: string;
  backend: string;
  instance_type?: string;
  max_cost: number | null;
  stopped_reason: string;
  ended_at?: number | null;
}

export interface IAlert {
  id: number;
  endpoint: string;
  feature: string;
  test: string;
  value: number | null;
  threshold: number | null;
  message: string;
  created_at: number;
  acknowledged_at: number | null;
  /** InAlert or Ok where the backend reports it (drift monitors). */
  status?: string;
}

/** A job as `dashboard/summary` lists it (what notifications watch). */
export interface IJobBrief {
  id: string;
  name: string;
  backend: string;
  status: string;
  created_at: number;
  ended_at: number | null;
  failure_reason: string | null;
}

/** `GET dashboard/summary`: one poll for the status bar, badges and notifications. */
export interface ISummary {
  platform: { running: boolean; url: string | null };
  running_jobs: number;
  endpoints_in_service: number;
  cost_month: {
    sagemaker: number;
    vertex: number;
    local: number;
    currency: string;
    month: string;
  } | null;
  open_alerts: number;
  alerts: IAlert[];
  jobs: IJobBrief[];
  errors: Record<string, string>;
}

/** A tuning study (`server/tuning_handlers.py`); `trials` only from `studies/<name>`. */
export interface IStudy {
  name: string;
  backend: string;
  status: string;
  objective: string;
  direction: string;
  strategy: string;
  trials_budget: number;
  parallel: number;
  counts: Record<string, number>;
  best: {
    number: number;
    value: number;
    params: Record<string, unknown>;
  } | null;
  model_name?: string;
  model_version?: number | null;
  failure_reason?: string | null;
  created_at: number;
  ended_at?: number | null;
  trials?: ITrial[];
}

export interface ITrial {
  number: number;
  status: string;
  params: Record<string, unknown>;
  value: number | null;
  job_id: string | null;
  duration: number | null;
  best_so_far: number | null;
  reason?: string | null;
}

/** A pipeline (`server/pipeline_handlers.py`). */
/** An edge of a pipeline's graph: data, ordering (`after`) or a condition's branch. */
export interface IPipelineEdge {
  from: string;
  to: string;
  kind: string;
  branch?: boolean;
}

export interface IPipeline {
  name: string;
  backend: string;
  created_at: number;
  steps: { name: string; kind: string; upstream: string[] }[];
  edges?: IPipelineEdge[];
  last_run: IPipelineRun | null;
}

export interface IPipelineRun {
  id: string;
  pipeline: string;
  backend?: string;
  status: string;
  created_at: number;
  started_at?: number | null;
  ended_at?: number | null;
  duration?: number | null;
  failure_reason?: string | null;
  cache_hits?: number;
  steps?: {
    name: string;
    kind: string;
    status: string;
    cache_hit: boolean;
    job_id: string | null;
    duration: number | null;
    failure_reason: string | null;
    upstream?: string[];
  }[];
  edges?: IPipelineEdge[];
}

/** A notebook schedule (`server/schedule_handlers.py`). */
export interface ISchedule {
  name: string;
  notebook: string;
  cron: string | null;
  interval: number | null;
  timezone: string;
  enabled: boolean;
  next_run_at: number | null;
  last_run_at: number | null;
  last_status: string | null;
  backend: string;
}

export interface IScheduleRun {
  id: string;
  schedule: string;
  status: string;
  trigger: string;
  created_at: number;
  duration: number | null;
  failure_reason: string | null;
  link: string | null;
}

/** One `log_metric` record. */
export interface IMetric {
  name: string;
  value: number;
  step: number | null;
  ts: number;
  host: string;
}

const post = { method: 'POST', body: '{}' };
const enc = encodeURIComponent;

/** The sidebar's view of the platform. */
export class ServerlessService {
  backends(): Promise<IBackends> {
    return requestAPI('backends');
  }
  platform(): Promise<IPlatform> {
    return requestAPI('platform');
  }
  startPlatform(): Promise<IPlatform> {
    return requestAPI('platform/start', post);
  }
  jobs(params: {
    status?: string;
    backend?: string;
    limit: number;
    offset: number;
  }): Promise<IJobsPage> {
    const query = new URLSearchParams({
      limit: String(params.limit),
      offset: String(params.offset)
    });
    if (params.status) {
      query.set('status', params.status);
    }
    if (params.backend) {
      query.set('backend', params.backend);
    }
    return requestAPI(`jobs?${query}`);
  }
  job(id: string): Promise<IJob> {
    return requestAPI(`jobs/${enc(id)}`);
  }
  /**
   * The next piece of a job's log. `cursor` is opaque: leave it out for the
   * first request, then send back the cursor of the last reply.
   */
  logs(id: string, cursor?: string): Promise<ILogChunk> {
    const query =
      cursor === undefined ? '' : `?${new URLSearchParams({ cursor })}`;
    return requestAPI(`jobs/${enc(id)}/logs${query}`);
  }
  stopJob(id: string): Promise<IJob> {
    return requestAPI(`jobs/${enc(id)}/stop`, post);
  }
  endpoints(): Promise<{ endpoints: IEndpoint[] }> {
    return requestAPI('endpoints');
  }
  endpoint(name: string): Promise<IEndpoint> {
    return requestAPI(`endpoints/${enc(name)}`);
  }
  undeploy(name: string): Promise<IEndpoint> {
    return requestAPI(`endpoints/${enc(name)}/undeploy`, post);
  }
  models(): Promise<{ models: IModel[] }> {
    return requestAPI('models');
  }
  costs(): Promise<ICosts> {
    return requestAPI('costs');
  }
  alerts(): Promise<{ alerts: IAlert[] }> {
    return requestAPI('alerts');
  }
  acknowledge(id: number): Promise<IAlert> {
    return requestAPI(`alerts/${id}/ack`, post);
  }
  summary(): Promise<ISummary> {
    return requestAPI('dashboard/summary');
  }
  metrics(id: string): Promise<{ metrics: IMetric[] }> {
    return requestAPI(`dashboard/jobs/${enc(id)}/metrics`);
  }
  /** Promote (or move) a model version; 409 with the reason when its gate refuses it. */
  setStage(
    name: string,
    version: number,
    body: {
      stage: string;
      require?: string[];
      reason?: string;
      backend?: string;
    }
  ): Promise<IModel> {
    return requestAPI(`models/${enc(name)}/${version}/stage`, {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }
  /** Approve or reject a model version. */
  setApproval(
    name: string,
    version: number,
    body: { approval: string; reason?: string; backend?: string }
  ): Promise<IModel> {
    return requestAPI(`models/${enc(name)}/${version}/approval`, {
      method: 'POST',
      body: JSON.stringify(body)
    });
  }
  studies(): Promise<{ studies: IStudy[] }> {
    return requestAPI('studies');
  }
  study(name: string): Promise<IStudy> {
    return requestAPI(`studies/${enc(name)}`);
  }
  pipelines(): Promise<{ pipelines: IPipeline[] }> {
    return requestAPI('pipelines');
  }
  pipelineRuns(name: string): Promise<{ runs: IPipelineRun[] }> {
    return requestAPI(`pipelines/${enc(name)}/runs?limit=20`);
  }
  pipelineRun(id: string): Promise<IPipelineRun> {
    return requestAPI(`pipeline-runs/${enc(id)}`);
  }
  schedules(): Promise<{ schedules: ISchedule[] }> {
    return requestAPI('schedules');
  }
  scheduleRuns(name: string): Promise<{ runs: IScheduleRun[] }> {
    return requestAPI(`schedules/${enc(name)}/runs?limit=20`);
  }
  runSchedule(name: string): Promise<IScheduleRun> {
    return requestAPI(`schedules/${enc(name)}/run`, {
      method: 'POST',
      body: JSON.stringify({ parameters: {} })
    });
  }
}
