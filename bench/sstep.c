// Single-step tracer for bench/hot-symbols.sh: sstep OUT UID BIN ARGS... runs BIN as UID under
// ptrace and writes the file offset of every instruction it executes in BIN's executable mapping
// (the supervisor only: the sandbox's child is not traced), one hex number a line.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/user.h>
#include <grp.h>
static unsigned char *hit; 
int main(int argc,char**argv){
  pid_t p=fork();
  if(!p){ setgroups(0,0); setgid(atoi(argv[2])); setuid(atoi(argv[2])); ptrace(PTRACE_TRACEME,0,0,0); execv(argv[3],argv+3); _exit(127);}
  int st; waitpid(p,&st,0);
  char path[64],line[512]; sprintf(path,"/proc/%d/maps",p); FILE*f=fopen(path,"r");
  unsigned long lo=0,hi=0,off=0;
  while(fgets(line,sizeof line,f)){unsigned long a,b,o;char perm[8];
    if(sscanf(line,"%lx-%lx %7s %lx",&a,&b,perm,&o)==4&&perm[2]=='x'&&strstr(line,argv[3])){lo=a;hi=b;off=o;}}
  fclose(f); if(!lo){fprintf(stderr,"no map\n");return 1;}
  hit=calloc(hi-lo,1); unsigned long n=0;
  for(;;){ if(ptrace(PTRACE_SINGLESTEP,p,0,0)<0)break; if(waitpid(p,&st,0)<0)break;
    if(WIFEXITED(st)||WIFSIGNALED(st))break;
    if(WIFSTOPPED(st)&&WSTOPSIG(st)!=SIGTRAP){ ptrace(PTRACE_SINGLESTEP,p,0,WSTOPSIG(st)); waitpid(p,&st,0); if(WIFEXITED(st)||WIFSIGNALED(st))break;}
    struct user_regs_struct r; ptrace(PTRACE_GETREGS,p,0,&r); n++;
    if(r.rip>=lo&&r.rip<hi)hit[r.rip-lo]=1; }
  FILE*o=fopen(argv[1],"w"); // output file offsets -> convert to vaddr later: file offset = off + (rip-lo)
  for(unsigned long i=0;i<hi-lo;i++)if(hit[i])fprintf(o,"%lx\n",off+i);
  fclose(o); fprintf(stderr,"steps %lu\n",n); return 0;}
