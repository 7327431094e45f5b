mod workload;
